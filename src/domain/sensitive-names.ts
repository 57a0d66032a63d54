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
  'mobileno',
  'phoneno',
  'telno',
  'cellno',
  'fname',
  'lname',
  'mname',
  'patientnumber',
  'patientfirst',
  'patientlast',
  'ptname',
  'guardianname',
  'parentname',
  'contactname',
  'caregivername',
  'spousename',
  'emergencycontact',
  'yourname',
  'bday',
  'additionalname',
  'nickname',
  'insuredname',
  'subscribername',
  'membername',
  'guardian',
  'first',
  'last',
  'last4',
  'nombre',
  'apellido',
  'apellidos',
  'telefono',
  'correo',
  'vorname',
  'nachname',
  'geburtsdatum',
  'recordnumber',
  'chartnumber',
  'policyno',
  'addr',
  'postal',
  'ccnumber',
  'cccsc',
  'ccexp',
  'cvv',
  'cvc',
  'lat',
  'lng',
  'lon',
  'latlng',
  'latlon',
  'latlong',
  'latitude',
  'longitude',
  'coords',
  'coordinates',
  'geolocation',
  'gps',
  'memberno',
  'membernumber',
  'username',
  'userid',
  'memberid',
  'accountnumber',
  'accountno',
  // A claim's number is an account's (45 CFR 164.514(b)(2)(i)(J)).
  'claimnumber',
  'claimno',
  'claimnum',
  'claimnbr',
  'claimid',
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
  'birth',
  'bday',
  'birthdate',
  'birthday',
  'firstname',
  'lastname',
  'fullname',
  'fname',
  'lname',
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
  'latitude',
  'longitude',
]);

/**
 * Words that make a name sensitive also glued to another at its start or end (`patientdob`,
 * `cellphone`, `useremail`, `addressline`, QA), where a word boundary cannot be seen. Only words
 * unlikely to end or start ordinary ones: `dob` does not make `adobe` sensitive.
 */
const GLUED_WORDS: readonly string[] = [
  'email',
  'phone',
  'dob',
  'ssn',
  'mrn',
  'birthdate',
  'birthday',
  'firstname',
  'lastname',
  'surname',
  'password',
  'passwd',
  'address',
  'zipcode',
  'postcode',
  'postalcode',
];

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
 * True for a name on the built-in list (folded whole, a number after it ignored), starting or
 * ending with a glued word, holding one of the sensitive words, or two or three words in a row
 * that make a listed name (`first_name`, `date_of_birth`).
 */
export function isBuiltInSensitive(name: string): boolean {
  const known = sensitiveNames.get(name);
  if (known !== undefined) return known;

  // A number after a name is a copy of it (`email2`, `address1`, `zip5`).
  const folded = foldName(name).replace(/\d+$/, '');
  let sensitive =
    BUILT_IN_SENSITIVE_NAMES.has(folded) ||
    GLUED_WORDS.some((word) => folded.startsWith(word) || folded.endsWith(word));
  const words = nameWords(name).map((word) => word.replace(/\d+$/, ''));
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
