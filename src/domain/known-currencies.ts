/**
 * The ISO 4217 currencies of Node's own ICU data: a code shaped as one but not among them (`UDS`)
 * is most likely misspelt, and is warned of rather than refused, as a currency newer than the ICU
 * data would be too.
 */
export const KNOWN_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));
