package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html"
)

// htmlVisibleText returns the text a reader of the HTML in r would see:
// script, style, template and title content dropped, entities unescaped,
// white space collapsed, block elements on their own lines. It never follows
// a link or loads anything. CSS is not evaluated: text hidden by a style is
// kept, since scam kits hide tracking tokens that way. It stops once the text
// passes maxText bytes (reporting cut) and gives up on a single token over
// maxBuf bytes, which the tokenizer would otherwise buffer whole.
func htmlVisibleText(r io.Reader, maxText, maxBuf int) (text string, cut bool, err error) {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxBuf)
	w := htmlTextWriter{}
	skip := 0 // depth inside elements whose content is not shown
	pre := 0  // depth inside <pre>, where white space is kept
	for w.sb.Len() <= maxText {
		switch z.Next() {
		case html.ErrorToken:
			zerr := z.Err()
			switch {
			case errors.Is(zerr, io.EOF):
				return w.String(), false, nil
			case errors.Is(zerr, html.ErrBufferExceeded):
				return w.String(), false, fmt.Errorf("HTML token over %s", sizeText(maxBuf))
			}
			return w.String(), false, zerr
		case html.TextToken:
			if skip == 0 {
				w.text(z.Text(), pre > 0)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case htmlHidden(tag):
				skip++
			case tag == "pre":
				pre++
				w.block(1)
			case tag == "br":
				w.lineBreak()
			case tag == "td" || tag == "th":
				w.space()
			case htmlBlock(tag) > 0:
				w.block(htmlBlock(tag))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case htmlHidden(tag):
				if skip > 0 {
					skip--
				}
			case tag == "pre":
				if pre > 0 {
					pre--
				}
				w.block(1)
			case tag == "td" || tag == "th":
				w.space()
			case htmlBlock(tag) > 0:
				w.block(htmlBlock(tag))
			}
		}
	}
	return w.String(), true, nil
}

// htmlHidden reports whether a mail client does not show the content of an
// element.
func htmlHidden(tag string) bool {
	switch tag {
	case "script", "style", "template", "title":
		return true
	}
	return false
}

// htmlBlock says how many line breaks an element puts around itself: 1 for
// a line of its own, 2 for a paragraph, 0 for inline elements.
func htmlBlock(tag string) int {
	switch tag {
	case "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote":
		return 2
	case "address", "article", "aside", "body", "caption", "center", "dd",
		"details", "dialog", "div", "dl", "dt", "fieldset", "figcaption",
		"figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol",
		"option", "section", "summary", "table", "tbody", "tfoot", "thead",
		"tr", "ul":
		return 1
	}
	return 0
}

// htmlTextWriter collapses white space the way a browser renders it.
type htmlTextWriter struct {
	sb           strings.Builder
	pendingSpace bool // a space is due before the next word
	newlines     int  // line breaks at the end of sb
}

func (w *htmlTextWriter) String() string {
	return strings.TrimSpace(w.sb.String())
}

func (w *htmlTextWriter) text(b []byte, keepSpace bool) {
	for _, r := range string(b) {
		switch {
		case keepSpace && r == '\n':
			w.sb.WriteByte('\n')
			w.newlines++
			w.pendingSpace = false
		case keepSpace && r == '\r':
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0':
			if keepSpace {
				w.sb.WriteByte(' ')
				w.newlines = 0
			} else {
				w.pendingSpace = true
			}
		case r == '\u00ad' || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff':
			// Invisible characters scam kits sprinkle into words to defeat
			// filters: they are not part of the visible text.
		default:
			if w.pendingSpace && w.sb.Len() > 0 && w.newlines == 0 {
				w.sb.WriteByte(' ')
			}
			w.pendingSpace = false
			w.sb.WriteRune(r)
			w.newlines = 0
		}
	}
}

func (w *htmlTextWriter) space() {
	w.pendingSpace = true
}

// lineBreak starts a new line; runs of <br> leave at most one blank line.
func (w *htmlTextWriter) lineBreak() {
	w.pendingSpace = false
	if w.newlines < 2 {
		w.sb.WriteByte('\n')
		w.newlines++
	}
}

// block ends the current line and leaves n line breaks (at most) between it
// and what follows.
func (w *htmlTextWriter) block(n int) {
	w.pendingSpace = false
	if w.sb.Len() == 0 {
		return
	}
	for w.newlines < n {
		w.sb.WriteByte('\n')
		w.newlines++
	}
}
