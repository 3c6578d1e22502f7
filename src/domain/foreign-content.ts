/**
 * HTML start tags that end SVG or MathML content: the reader closes the foreign elements open and
 * reads the tag as HTML (`<font>` only with a `color`, `face` or `size` attribute).
 */
const BREAKOUT_TAGS = new Set(
  (
    'b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li ' +
    'listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var'
  ).split(' '),
);

/** The attributes that make `<font>` end foreign content. */
const FONT_BREAKOUT_ATTRIBUTE = /[\t\n\f\r /](?:color|face|size)(?=[\t\n\f\r /=>]|$)/;

/**
 * Elements inside which SVG or MathML content is read as HTML again (HTML integration points);
 * `<annotation-xml>` only with an HTML `encoding`.
 */
const INTEGRATION_POINTS: Readonly<Record<string, ReadonlySet<string>>> = {
  svg: new Set(['foreignobject', 'desc', 'title']),
  math: new Set(['mi', 'mo', 'mn', 'ms', 'mtext']),
};

/** An `encoding` attribute that makes `<annotation-xml>` hold HTML. */
const HTML_ENCODING =
  /[\t\n\f\r /]encoding[\t\n\f\r ]*=[\t\n\f\r ]*["']?(?:text\/html|application\/xhtml\+xml)["'\t\n\f\r />]/;

/** An open element that changes how its content is read. */
interface OpenElement {
  name: string;
  /** `svg` or `math` for SVG or MathML content, none for an element whose content is HTML. */
  namespace?: 'svg' | 'math';
}

/**
 * Whether HTML markup read tag by tag stands in SVG or MathML content, where no element's content
 * is raw text (`<svg><style>` holds markup) and `<![CDATA[` opens a CDATA section, as a browser's
 * tree builder decides it: `<svg>` and `<math>` open such content, their end tags and HTML tags
 * such as `<p>` close it, and `<foreignObject>` or `<mtext>` hold HTML again.
 */
export class ForeignContent {
  private readonly open: OpenElement[] = [];

  /** Whether the markup read so far leaves the reader in SVG or MathML content. */
  get inside(): boolean {
    return this.open.at(-1)?.namespace !== undefined;
  }

  /**
   * Reads a start tag, given its name, its whole text (`<font color=red>`) and whether it ends in
   * `/>`, and says whether it stands in SVG or MathML content: not the `<svg>` or `<math>` that
   * opens it, nor a tag that ends it.
   */
  startTag(name: string, text: string, selfClosing: boolean): boolean {
    const namespace = this.open.at(-1)?.namespace;
    if (namespace === undefined) {
      if ((name === 'svg' || name === 'math') && !selfClosing) this.open.push({ name, namespace: name });
      return false;
    }
    if (BREAKOUT_TAGS.has(name) || (name === 'font' && FONT_BREAKOUT_ATTRIBUTE.test(text))) {
      this.closeForeign();
      return false;
    }
    if (selfClosing) return true;
    const holdsHtml =
      INTEGRATION_POINTS[namespace]?.has(name) === true ||
      (namespace === 'math' && name === 'annotation-xml' && HTML_ENCODING.test(text));
    if (holdsHtml) this.open.push({ name });
    else if (name === 'svg' || name === 'math') this.open.push({ name, namespace });
    return true;
  }

  /** Reads an end tag. */
  endTag(name: string): void {
    if (this.inside && (name === 'p' || name === 'br')) {
      this.closeForeign();
      return;
    }
    const at = this.open.findLastIndex((element) => element.name === name);
    if (at !== -1) this.open.length = at;
  }

  /** Closes the foreign elements open down to the nearest one whose content is HTML. */
  private closeForeign(): void {
    while (this.open.at(-1)?.namespace !== undefined) this.open.pop();
  }
}
