import type { Counter, Gauge, Histogram, MetricsRegistry } from './metrics.js';

/** The server's own metrics, registered once per registry and shared by both listeners. */
export interface HttpMetrics {
  requests: Counter;
  duration: Histogram;
  errors: Counter;
  inFlight: Gauge;
}

/**
 * Registers the HTTP metrics. Labels are closed sets only: the method (Node's parser accepts only
 * known methods), the route pattern or `(unmatched)`, the status (`0` for a request that ended
 * before any answer), and the stable error code. Requests refused before they reached the
 * pipeline (a slowloris 408, a malformed head) count only in `lighttrail_errors_total`.
 */
export function createHttpMetrics(registry: MetricsRegistry): HttpMetrics {
  return {
    requests: registry.counter('lighttrail_http_requests_total', 'HTTP requests answered.', {
      labelNames: ['method', 'route', 'status'],
    }),
    duration: registry.histogram(
      'lighttrail_http_request_duration_seconds',
      'Time from request to the end of the response, in seconds.',
      { labelNames: ['method', 'route'] },
    ),
    errors: registry.counter('lighttrail_errors_total', 'Refusals and failures by error code.', {
      labelNames: ['code'],
    }),
    inFlight: registry.gauge('lighttrail_http_requests_in_flight', 'Requests being handled now.'),
  };
}
