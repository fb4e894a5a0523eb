// A window over a long list of items of one height: only the items near the viewport are in the
// document, and room left before and after them stands in for the others, so the scrollbar still
// spans them all. A supervisor's tab sees every dialog of the hub, and laying out hundreds of
// items for every message kept its main thread busy.

const OVERSCAN = 20; // items drawn beyond each edge of the viewport
const GUESS = 76; // px per item until one is measured

export class ListWindow {
  /**
   * @param {HTMLElement} list the scrolling list; its CSS makes room for --window-before/after
   * @param {() => void} redraw draws the items of range() again
   */
  constructor(list, redraw) {
    this.list = list;
    this.redraw = redraw;
    this.pitch = 0; // px from one item's top to the next, once measured
    this.top = 0; // the list's scrollTop, kept from its scroll events to read no layout
    this.height = 0;
    this.frame = 0;
    list.addEventListener("scroll", () => {
      this.top = list.scrollTop;
      if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.redraw(); });
    }, { passive: true });
    // A phone shows the list only in its own pane, and fonts may change the item's height.
    new ResizeObserver(() => {
      this.height = list.clientHeight;
      this.pitch = 0;
      this.redraw();
    }).observe(list);
  }

  /** The items [first, last) of `count` to draw. */
  range(count) {
    const pitch = this.pitch || GUESS;
    const first = Math.max(0, Math.floor(this.top / pitch) - OVERSCAN);
    const last = Math.min(count, Math.ceil((this.top + this.height) / pitch) + OVERSCAN);
    return { first, last: Math.max(first, last) };
  }

  /** Make room for the items left out; measure the item height the first time items are drawn. */
  place(first, last, count) {
    // A hidden list (a phone showing the conversation) has no height to measure.
    if (!this.pitch && last > first && this.height > 0) {
      const items = this.list.children;
      const one = items[0].getBoundingClientRect();
      this.pitch = items.length > 1 ? items[1].getBoundingClientRect().top - one.top : one.height;
      // Drawn on the guess: draw the window the measured height asks for.
      if (this.pitch && this.pitch !== GUESS) queueMicrotask(this.redraw);
    }
    const pitch = this.pitch || GUESS;
    this.list.style.setProperty("--window-before", `${first * pitch}px`);
    this.list.style.setProperty("--window-after", `${(count - last) * pitch}px`);
  }

  /** Scroll just enough for item `index` to be in view; `itemOf()` is its element once drawn. */
  reveal(index, itemOf) {
    const pitch = this.pitch || GUESS;
    const itemTop = index * pitch;
    // Near it on the estimate, so the window draws it; then exactly, by the element itself.
    if (itemTop < this.top || itemTop + pitch > this.top + this.height) {
      this.list.scrollTop = Math.max(0, itemTop - Math.max(0, this.height - pitch) / 2);
      this.top = this.list.scrollTop;
      this.redraw();
    }
    const item = itemOf();
    if (item) item.scrollIntoView({ block: "nearest" });
  }
}
