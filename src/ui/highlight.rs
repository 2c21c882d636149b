//! Syntax highlighting on the server: syntect's parser with bat's syntax set (which has
//! TypeScript and TSX) emits `<span class="hl-…">` runs; one style sheet generated from
//! a theme at start colours them, so pages carry no inline styles.

use std::sync::Arc;

use maud::{Markup, PreEscaped, html};
use syntect::html::{ClassStyle, css_for_theme_with_class_style, line_tokens_to_classed_spans};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};
use syntect::util::LinesWithEndings;

/// The class prefix of highlighted runs.
const STYLE: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

/// Larger texts are shown plain: highlighting is a regex engine per line, and a page
/// must load in a fraction of a second.
pub const HIGHLIGHT_LIMIT: usize = 512 * 1024;

/// The syntaxes and the style sheet, loaded once.
pub struct Highlighter {
    syntaxes: Arc<SyntaxSet>,
    css: String,
}

/// A line of each language a video project holds, highlighted once at start on a
/// thread of its own: syntect compiles a syntax's regexes on first use (a third of a
/// second for TSX), which the first page would otherwise wait for.
const WARM_UP: [(&str, &str); 5] = [
    (
        "a.tsx",
        "export const A = () => <div className={`x${1}`}>{/* c */}</div>;\n",
    ),
    (
        "a.ts",
        "import {x} from 'y'; export type T = {a: number};\n",
    ),
    ("a.json", "{\"a\": [1, true, null]}\n"),
    ("a.css", ".a { color: red; }\n"),
    ("a.md", "# T\n\n*x* `y`\n"),
];

impl Highlighter {
    /// Loads bat's syntaxes and the light theme's style sheet.
    pub fn new() -> Highlighter {
        let themes = two_face::theme::extra();
        let theme = themes.get(two_face::theme::EmbeddedThemeName::InspiredGithub);
        let css = css_for_theme_with_class_style(theme, STYLE).unwrap_or_default();
        let highlighter = Highlighter {
            syntaxes: Arc::new(two_face::syntax::extra_newlines()),
            css,
        };
        let warm = Highlighter {
            syntaxes: highlighter.syntaxes.clone(),
            css: String::new(),
        };
        std::thread::spawn(move || {
            for (name, text) in WARM_UP {
                warm.lines(name, text);
            }
        });
        highlighter
    }

    /// The style sheet for the highlighted runs.
    pub fn css(&self) -> &str {
        &self.css
    }

    fn syntax_for(&self, name: &str) -> Option<&SyntaxReference> {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        let by_name = |n: &str| self.syntaxes.find_syntax_by_name(n);
        match ext.as_str() {
            "tsx" => by_name("TypeScriptReact"),
            "ts" | "mts" | "cts" => by_name("TypeScript"),
            _ => self.syntaxes.find_syntax_by_extension(&ext),
        }
    }

    /// The lines of `text` (a file named `name`) as highlighted HTML, one entry per
    /// line without its end; plain (escaped) when the syntax is unknown or the text is
    /// over [`HIGHLIGHT_LIMIT`].
    pub fn lines(&self, name: &str, text: &str) -> Vec<Markup> {
        self.syntax_for(name)
            .filter(|_| text.len() <= HIGHLIGHT_LIMIT)
            .and_then(|syntax| self.highlighted(syntax, text))
            .unwrap_or_else(|| text.lines().map(|l| html! { (l) }).collect())
    }

    /// Each line's spans stand alone: the scopes still open where a line starts (in a
    /// multi-line comment or template string) are opened again, and every span is
    /// closed where the line ends, so a line can be shown by itself (in a diff).
    fn highlighted(&self, syntax: &SyntaxReference, text: &str) -> Option<Vec<Markup>> {
        let mut state = ParseState::new(syntax);
        let mut stack = ScopeStack::new();
        let mut out = Vec::new();
        for line in LinesWithEndings::from(text) {
            let mut html = String::new();
            for scope in stack.as_slice() {
                html.push_str("<span class=\"");
                let classes: Vec<String> = scope
                    .build_string()
                    .split('.')
                    .map(|atom| format!("hl-{atom}"))
                    .collect();
                html.push_str(&classes.join(" "));
                html.push_str("\">");
            }
            let open = stack.len().cast_signed();
            let ops = state.parse_line(line, &self.syntaxes).ok()?;
            let (body, delta) = line_tokens_to_classed_spans(line, &ops, STYLE, &mut stack).ok()?;
            // The line's end is the only newline in it (escaped text, no markup).
            html.push_str(&body.replace(['\n', '\r'], ""));
            html.push_str(&"</span>".repeat(usize::try_from(open + delta).unwrap_or(0)));
            out.push(PreEscaped(html));
        }
        Some(out)
    }
}

impl Default for Highlighter {
    fn default() -> Self {
        Highlighter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Highlighter;

    #[test]
    fn tsx_is_highlighted_and_spans_close_on_each_line() {
        let h = Highlighter::new();
        let lines = h.lines(
            "Root.tsx",
            "/* a\n b */\nexport const Root = () => <div>{1}</div>;\n",
        );
        assert_eq!(lines.len(), 3);
        for line in &lines {
            let s = &line.0;
            assert_eq!(
                s.matches("<span").count(),
                s.matches("</span>").count(),
                "{s}"
            );
        }
        // The comment's second line is still a comment.
        assert!(lines[1].0.contains("hl-comment"), "{}", lines[1].0);
        assert!(
            lines[2].0.contains("hl-keyword") || lines[2].0.contains("hl-storage"),
            "{}",
            lines[2].0
        );
        assert!(h.css().contains(".hl-comment"));
    }

    #[test]
    fn unknown_or_huge_text_is_plain_and_escaped() {
        let h = Highlighter::new();
        let lines = h.lines("notes.unknownext", "<b>x</b>\n");
        assert_eq!(lines[0].0, "&lt;b&gt;x&lt;/b&gt;");
        let big = "const a = 1;\n".repeat(super::HIGHLIGHT_LIMIT / 10);
        assert!(!h.lines("big.ts", &big)[0].0.contains("<span"));
    }
}
