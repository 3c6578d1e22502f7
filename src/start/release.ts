/** Undoes one step of starting: closes what it opened, stops what it started. */
export type Release = () => void | Promise<void>;
