import { readdirSync, readFileSync } from 'node:fs';

/** The shared fixtures directory (`../shared/fixtures` beside the repository). */
export const FIXTURES = new URL('../../../shared/fixtures/', import.meta.url);

/** Names of the fixture files in a folder (`vast`, `openrtb`, `native`), sorted. */
export function fixtureNames(folder: string): string[] {
  return readdirSync(new URL(`${folder}/`, FIXTURES)).sort();
}

/** A fixture file's text. */
export function fixtureText(folder: string, name: string): string {
  return readFileSync(new URL(`${folder}/${name}`, FIXTURES), 'utf8');
}

/** A JSON fixture, parsed. */
export function fixtureJson(folder: string, name: string): any {
  return JSON.parse(fixtureText(folder, name));
}
