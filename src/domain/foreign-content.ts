import { InnermostByName } from './innermost-by-name.js';

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
const FONT_BREAKOUT_ATTRIBUTES = new Set(['color', 'face', 'size']);

/** HTML elements that have no content and no end tag. */
const VOID_ELEMENTS = new Set(
  'area base basefont bgsound br col embed frame hr img input keygen link meta param source track wbr'.split(
    ' ',
  ),
);

/**
 * HTML's special elements: an end tag no open element matches stops at one of them, and is
 * ignored (`</desc>` with a `<div>` open inside the `<desc>`).
 */
const SPECIAL_ELEMENTS = new Set(
  (
    'address applet area article aside base basefont bgsound blockquote body br button caption center ' +
    'col colgroup dd details dir div dl dt embed fieldset figcaption figure footer form frame frameset ' +
    'h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li link listing main marquee ' +
    'menu meta nav noembed noframes noscript object ol p param plaintext pre script search section ' +
    'select source style summary table tbody td template textarea tfoot th thead title tr track ul wbr xmp'
  ).split(' '),
);

/**
 * Foreign elements inside which content is read as HTML again (HTML integration points and
 * MathML's text integration points); `<annotation-xml>` only with an HTML `encoding`.
 */
const INTEGRATION_POINTS: Readonly<Record<'svg' | 'math', ReadonlySet<string>>> = {
  svg: new Set(['foreignobject', 'desc', 'title']),
  math: new Set(['mi', 'mo', 'mn', 'ms', 'mtext']),
};

/** The `encoding` values that make `<annotation-xml>` hold HTML. */
const HTML_ENCODINGS = new Set(['text/html', 'application/xhtml+xml']);

/** An attribute of a start tag as a browser reads it: its name and value, lower-cased. */
export interface TagAttribute {
  name: string;
  value: string;
}

/** An open element. */
interface OpenElement {
  name: string;
  /** `svg` or `math` for an SVG or MathML element, none for an HTML element. */
  namespace?: 'svg' | 'math';
  /** Set on a foreign element whose content is read as HTML (an integration point). */
  holdsHtml?: true;
}

/**
 * An open element where it stands among those open, with what the reader asks of the elements at
 * and below it, kept as it is opened so that no question walks them all: markup nesting elements
 * a hundred thousand deep asked so at each of its end tags, in time quadratic in its length.
 */
interface OpenEntry extends OpenElement {
  /** Its index among the elements open (which never changes while it is open). */
  at: number;
  /**
   * For SVG or MathML content ({@link isForeignContent}): the index of the first of the run of such
   * elements it ends, and how many of that run are named as that first one is.
   */
  runStart: number;
  runRootNamed: number;
  /** The index of the innermost HTML element at or below it, -1 if none. */
  htmlBelow: number;
  /**
   * The index of the innermost element at or below it that stops an end tag ({@link isSpecial}),
   * -1 if none.
   */
  specialBelow: number;
}

/** Whether an open element holds SVG or MathML content: a foreign element, but an integration point. */
function isForeignContent(element: OpenElement | undefined): boolean {
  return element?.namespace !== undefined && element.holdsHtml !== true;
}

/**
 * Whether an end tag that no element above this one matches stops at it: HTML's special elements,
 * and integration points.
 */
function isSpecial(element: OpenElement): boolean {
  return element.namespace === undefined ? SPECIAL_ELEMENTS.has(element.name) : element.holdsHtml === true;
}

/**
 * Whether HTML markup read tag by tag stands in SVG or MathML content, where no element's content
 * is raw text (`<svg><style>` holds markup) and `<![CDATA[` opens a CDATA section, as a browser's
 * tree builder decides it, from the elements it keeps open: `<svg>` and `<math>` open such
 * content; their end tags, an end tag of an HTML element open around them and HTML tags such as
 * `<p>` close it; and `<foreignObject>` or `<mtext>` hold HTML again.
 */
export class ForeignContent {
  private readonly open: OpenEntry[] = [];
  /** Where each name stands among the elements open. */
  private readonly byName = new InnermostByName();

  /** Whether the markup read so far leaves the reader in SVG or MathML content. */
  get inside(): boolean {
    return isForeignContent(this.open.at(-1));
  }

  /** Whether `<![CDATA[` opens a CDATA section here: the element open last is not HTML's. */
  get cdataAllowed(): boolean {
    return this.open.at(-1)?.namespace !== undefined;
  }

  /**
   * The end tags that close the SVG or MathML content the reader stands in, down to the HTML element
   * or integration point around it, so that what follows is read as HTML; `''` outside such
   * content. Each end tag closes the innermost open element of its name, so the `<svg>` or `<math>`
   * that opened the content is named once more for each element of its name open inside it.
   */
  get closingTags(): string {
    const current = this.open.at(-1);
    if (current === undefined || !isForeignContent(current)) return '';
    const root = this.open[current.runStart];
    return root === undefined ? '' : `</${root.name}>`.repeat(current.runRootNamed);
  }

  /**
   * Whether an HTML `<picture>` is the element open innermost once the SVG or MathML content the
   * reader stands in is closed, and then `closed`, an HTML element the markup ends inside (whose
   * end tag closes it): an `<img>` added there is the picture's own.
   */
  pictureInnermost(closed?: string): boolean {
    const current = this.open.at(-1);
    let at = current !== undefined && isForeignContent(current) ? current.runStart - 1 : this.open.length - 1;
    if (closed !== undefined && this.open[at]?.namespace === undefined && this.open[at]?.name === closed)
      at--;
    const element = this.open[at];
    return element?.namespace === undefined && element?.name === 'picture';
  }

  /** `script` or `style` when the reader is in the text of an SVG script or style element. */
  get foreignText(): 'script' | 'style' | undefined {
    const current = this.open.at(-1);
    if (current?.namespace === undefined) return undefined;
    return current.name === 'script' || current.name === 'style' ? current.name : undefined;
  }

  /**
   * Reads a start tag, given its name, its attributes and whether it ends in `/>`, and says whether
   * it stands in SVG or MathML content: not the `<svg>` or `<math>` that opens it, nor a tag that
   * ends it.
   */
  startTag(name: string, attributes: readonly TagAttribute[], selfClosing: boolean): boolean {
    if (this.inside) {
      const breaksOut =
        BREAKOUT_TAGS.has(name) ||
        (name === 'font' && attributes.some((attribute) => FONT_BREAKOUT_ATTRIBUTES.has(attribute.name)));
      if (!breaksOut) {
        if (!selfClosing) this.push(this.foreignElement(name, attributes));
        return true;
      }
      this.closeForeignContent();
    }
    if (name === 'svg' || name === 'math') {
      if (!selfClosing) this.push({ name, namespace: name });
    } else if (!VOID_ELEMENTS.has(name)) this.push({ name });
    return false;
  }

  /** Reads an end tag. */
  endTag(name: string): void {
    // The document's end tags change how what follows is read, not which elements are open.
    if (name === 'body' || name === 'html') return;
    const current = this.open.at(-1);
    const match = this.innermostNamed(name);
    if (current !== undefined && isForeignContent(current)) {
      if (name === 'p' || name === 'br') {
        this.closeForeignContent();
        return;
      }
      // Foreign elements are closed by name, down to the first HTML element.
      if (match !== undefined && match.at > current.htmlBelow) {
        this.open.length = match.at;
        return;
      }
    }
    // As HTML reads it: the innermost open element of that name, unless a special one comes first.
    if (match !== undefined && match.at >= (current?.specialBelow ?? -1)) this.open.length = match.at;
  }

  /** Opens an element, above those open. */
  private push(element: OpenElement): void {
    const below = this.open.at(-1);
    const at = this.open.length;
    const continuesRun = isForeignContent(element) && below !== undefined && isForeignContent(below);
    const runStart = continuesRun ? below.runStart : at;
    const rootName = continuesRun ? this.open[runStart]?.name : element.name;
    const entry: OpenEntry = {
      ...element,
      at,
      runStart,
      runRootNamed: (continuesRun ? below.runRootNamed : 0) + (element.name === rootName ? 1 : 0),
      htmlBelow: element.namespace === undefined ? at : (below?.htmlBelow ?? -1),
      specialBelow: isSpecial(element) ? at : (below?.specialBelow ?? -1),
    };
    this.open.push(entry);
    this.byName.opened(element.name, at);
  }

  /** Closes the SVG or MathML content the reader stands in, down to the element around it. */
  private closeForeignContent(): void {
    const current = this.open.at(-1);
    if (current !== undefined && isForeignContent(current)) this.open.length = current.runStart;
  }

  /** The innermost open element named `name`, if any. */
  private innermostNamed(name: string): OpenEntry | undefined {
    const at = this.byName.innermost(name, (index) => this.open[index]?.name);
    return at === undefined ? undefined : this.open[at];
  }

  /** The foreign element a start tag in foreign content opens. */
  private foreignElement(name: string, attributes: readonly TagAttribute[]): OpenElement {
    const current = this.open.at(-1);
    const namespace =
      current?.namespace === 'math' && current.name === 'annotation-xml' && name === 'svg'
        ? 'svg'
        : (current?.namespace ?? 'svg');
    const holdsHtml =
      INTEGRATION_POINTS[namespace].has(name) ||
      (namespace === 'math' &&
        name === 'annotation-xml' &&
        attributes.some((attribute) => attribute.name === 'encoding' && HTML_ENCODINGS.has(attribute.value)));
    return holdsHtml ? { name, namespace, holdsHtml: true } : { name, namespace };
  }
}
