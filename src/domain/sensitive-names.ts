/**
 * The names whose values LightTrail never keeps, whatever a site's settings say: personal data
 * and credentials. Query parameters and event properties are checked against them (the PHI
 * firewall, src/enrich/phi.ts and url.ts), and site settings refuse to allow one (domain/site.ts).
 */

/**
 * Names whose value is personal or a credential whatever a site's allowlist says. Compared after
 * lower-casing and dropping everything but letters and digits, so `E-Mail`, `e_mail` and `email`
 * are one name. Vendor ids that identify a person (Mailchimp `mc_eid`, Marketo `mkt_tok`, HubSpot
 * `_hsenc`) are here too.
 */
export const BUILT_IN_SENSITIVE_NAMES: ReadonlySet<string> = new Set([
  'email',
  'emailaddress',
  'mail',
  'phone',
  'phonenumber',
  'tel',
  'telephone',
  'mobile',
  'cell',
  'fax',
  'ssn',
  'socialsecurity',
  'mrn',
  'medicalrecord',
  'medicalrecordnumber',
  'patient',
  'patientid',
  'patientname',
  'dob',
  'dateofbirth',
  'birthdate',
  'birthday',
  'name',
  'firstname',
  'lastname',
  'fullname',
  'givenname',
  'familyname',
  'middlename',
  'maidenname',
  'surname',
  'mobilenumber',
  'patientnumber',
  'username',
  'userid',
  'memberid',
  'accountnumber',
  'insuranceid',
  'policynumber',
  'driverslicense',
  'licensenumber',
  'address',
  'street',
  'zip',
  'zipcode',
  'postcode',
  'postalcode',
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'accesstoken',
  'idtoken',
  'refreshtoken',
  'authtoken',
  'auth',
  'authorization',
  'apikey',
  'session',
  'sessionid',
  'sid',
  'mceid',
  'mkttok',
  'hsenc',
  'hsmi',
  'veroid',
  'olyencid',
]);

/** Folds a parameter or property name for comparison with the sensitive and allow lists. */
export function foldName(name: string): string {
  return name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * Words that make a name sensitive wherever they stand in it (`cell_phone`, `contactEmail`,
 * `dob_date`). Broader words (`name`, `patient`, `mobile`, `session`) count only in the
 * combinations the list above names (`patient_first_name` holds `firstname`), so `event_name`,
 * `patient_type` and `mobile_menu` keep their values.
 */
const SENSITIVE_WORDS: ReadonlySet<string> = new Set([
  'email',
  'phone',
  'telephone',
  'tel',
  'cell',
  'fax',
  'ssn',
  'mrn',
  'dob',
  'birthdate',
  'birthday',
  'firstname',
  'lastname',
  'fullname',
  'surname',
  'address',
  'street',
  'zipcode',
  'postcode',
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'apikey',
]);

/** Lower-case words of a name: `patientFirstName`, `patient-first_name` both give three. */
function nameWords(name: string): string[] {
  return name
    .replace(/(?<=\p{Ll})(?=\p{Lu})/gu, ' ')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '');
}

const sensitiveNames = new Map<string, boolean>();

/**
 * True for a name on the built-in list (folded whole), holding one of its sensitive words, or
 * two or three words in a row that make a listed name (`first_name`, `date_of_birth`).
 */
export function isBuiltInSensitive(name: string): boolean {
  const known = sensitiveNames.get(name);
  if (known !== undefined) return known;

  let sensitive = BUILT_IN_SENSITIVE_NAMES.has(foldName(name));
  const words = nameWords(name);
  for (let i = 0; i < words.length && !sensitive; i++) {
    const pair = words[i] + (words[i + 1] ?? '');
    const three = pair + (words[i + 2] ?? '');
    sensitive =
      SENSITIVE_WORDS.has(words[i] as string) ||
      (i + 1 < words.length && BUILT_IN_SENSITIVE_NAMES.has(pair)) ||
      (i + 2 < words.length && BUILT_IN_SENSITIVE_NAMES.has(three));
  }

  // Names repeat on every event; a flood of new ones only empties the memo.
  if (sensitiveNames.size >= 5000) sensitiveNames.clear();
  sensitiveNames.set(name, sensitive);

  return sensitive;
}
