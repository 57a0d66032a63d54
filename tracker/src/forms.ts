import type { Send } from './types.js';

/**
 * Reports each form submission by the form's id or name attribute, and nothing else: what a
 * visitor types into a clinic's form is PHI. Attributes are read with getAttribute because
 * `form.id` and `form.name` return a control when the form has a field called "id" or "name".
 * Listens in the capture phase, before any page handler can stop the event.
 */
export function watchForms(send: Send): void {
  document.addEventListener(
    'submit',
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement)) return;

      const name = form.getAttribute('id') || form.getAttribute('name') || '';
      send([{ type: 'form', url: location.href, name }]);
    },
    true,
  );
}
