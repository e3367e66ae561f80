//! Converts an agent's Markdown into the subset WeCom renders, with a real parser
//! (pulldown-cmark) rather than pattern replacement:
//!
//! - headings become ATX headings (`#`…`######`), whatever their source style;
//! - emphasis is normalized to `*x*`, strong to `**x**`, strikethrough to `~~x~~`;
//! - tables, which WeCom does not render, become lists: one item per row, `Header: cell` pairs;
//! - code fences are kept (an unclosed fence of a partial answer is closed);
//! - lists, quotes, links and inline code are kept; images become links.
//!
//! Snapshots of a streaming answer are converted whole each time, so a half-written table or
//! code block renders sensibly until the rest arrives.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// `markdown` in WeCom's subset.
pub fn to_wecom(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut writer = Writer { line_start: true, ..Writer::default() };
    for event in Parser::new_ext(markdown, options) {
        writer.event(event);
    }
    writer.finish()
}

/// A table being collected: rows become list items when it ends.
#[derive(Default)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: String,
    in_head: bool,
}

/// The output being written, with the block structure that decides line prefixes.
#[derive(Default)]
struct Writer {
    out: String,
    /// Nesting of quotes (each adds `> `).
    quotes: usize,
    /// Open lists: the next number of an ordered list, `None` for bullets.
    lists: Vec<Option<u64>>,
    /// Link destinations of open links and images.
    links: Vec<String>,
    table: Option<Table>,
    in_code: bool,
    /// Whether the next text starts a new line (so it gets the line prefix).
    line_start: bool,
    /// A blank line separating the last block from the next one, written when the next one
    /// starts (so that nothing trails the answer, and a quote's separator has its depth).
    pending_blank: bool,
}

impl Writer {
    /// The prefix of a continuation line: quote markers, then the indentation of open list items.
    fn prefix(&self) -> String {
        let mut p = "> ".repeat(self.quotes);
        p.push_str(&"  ".repeat(self.lists.len()));
        p
    }

    /// Writes inline text (into the current table cell when in a table).
    fn text(&mut self, s: &str) {
        if let Some(table) = &mut self.table {
            table.cell.push_str(s);
            return;
        }
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if line.is_empty() {
                continue;
            }
            if self.line_start {
                self.flush_blank();
                let prefix = self.prefix();
                self.out.push_str(&prefix);
                self.line_start = false;
            }
            self.out.push_str(line);
        }
    }

    fn newline(&mut self) {
        self.out.push('\n');
        self.line_start = true;
    }

    /// Ends a block: one line break inside lists (tight), a blank line elsewhere.
    fn end_block(&mut self) {
        if !self.line_start {
            self.newline();
        }
        if self.lists.is_empty() && !self.out.is_empty() {
            self.pending_blank = true;
        }
    }

    /// Writes the blank line a finished block asked for.
    fn flush_blank(&mut self) {
        if std::mem::take(&mut self.pending_blank) {
            let quote = "> ".repeat(self.quotes);
            self.out.push_str(quote.trim_end());
            self.newline();
        }
    }

    /// Starts a line with `marker` at the indentation of the enclosing lists.
    fn start_marked_line(&mut self, marker: &str) {
        if !self.line_start {
            self.newline();
        }
        self.flush_blank();
        let mut p = "> ".repeat(self.quotes);
        p.push_str(&"  ".repeat(self.lists.len().saturating_sub(1)));
        p.push_str(marker);
        self.out.push_str(&p);
        self.line_start = false;
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => self.text(&format!("`{t}`")),
            Event::InlineMath(t) => self.text(&format!("${t}$")),
            Event::DisplayMath(t) => self.text(&format!("$${t}$$")),
            Event::Html(t) | Event::InlineHtml(t) => self.text(&t),
            Event::FootnoteReference(t) => self.text(&format!("[^{t}]")),
            Event::SoftBreak | Event::HardBreak => {
                if let Some(table) = &mut self.table {
                    table.cell.push(' ');
                } else {
                    self.newline();
                }
            }
            Event::Rule => {
                self.start_marked_line("---");
                self.end_block();
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {}
            Tag::Heading { level, .. } => {
                let hashes = match level {
                    HeadingLevel::H1 => "# ",
                    HeadingLevel::H2 => "## ",
                    HeadingLevel::H3 => "### ",
                    HeadingLevel::H4 => "#### ",
                    HeadingLevel::H5 => "##### ",
                    HeadingLevel::H6 => "###### ",
                };
                self.start_marked_line(hashes);
            }
            Tag::BlockQuote(_) => {
                if !self.line_start {
                    self.newline();
                }
                self.flush_blank();
                self.quotes += 1;
            }
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(lang) => lang.split_whitespace().next().unwrap_or_default().to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.start_marked_line(&format!("```{lang}"));
                self.newline();
                self.in_code = true;
            }
            Tag::List(start) => {
                if !self.line_start {
                    self.newline();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => "- ".to_string(),
                };
                self.start_marked_line(&marker);
            }
            Tag::Table(_) => self.table = Some(Table::default()),
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                }
            }
            Tag::TableRow | Tag::TableCell => {}
            Tag::Emphasis => self.text("*"),
            Tag::Strong => self.text("**"),
            Tag::Strikethrough => self.text("~~"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.text("[");
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) => self.end_block(),
            TagEnd::BlockQuote(_) => {
                if !self.line_start {
                    self.newline();
                }
                self.quotes = self.quotes.saturating_sub(1);
                self.pending_blank = false;
                self.end_block();
            }
            TagEnd::CodeBlock => {
                self.in_code = false;
                if !self.line_start {
                    self.newline();
                }
                self.text("```");
                self.end_block();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.end_block();
            }
            TagEnd::Item if !self.line_start => self.newline(),
            TagEnd::TableCell => {
                if let Some(t) = &mut self.table {
                    let cell = std::mem::take(&mut t.cell).trim().to_string();
                    if t.in_head {
                        t.header.push(cell);
                    } else {
                        t.row.push(cell);
                    }
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.write_table(table);
                }
            }
            TagEnd::Emphasis => self.text("*"),
            TagEnd::Strong => self.text("**"),
            TagEnd::Strikethrough => self.text("~~"),
            TagEnd::Link | TagEnd::Image => {
                let url = self.links.pop().unwrap_or_default();
                self.text(&format!("]({url})"));
            }
            _ => {}
        }
    }

    /// A table as a list: `- Header: cell, Header: cell` per row (cells alone without a header).
    fn write_table(&mut self, table: Table) {
        for row in &table.rows {
            let pairs: Vec<String> = row
                .iter()
                .enumerate()
                .filter(|(_, cell)| !cell.is_empty())
                .map(|(i, cell)| match table.header.get(i).filter(|h| !h.is_empty()) {
                    Some(h) => format!("{h}: {cell}"),
                    None => cell.clone(),
                })
                .collect();
            self.lists.push(None);
            self.start_marked_line("- ");
            self.text(&pairs.join(", "));
            self.lists.pop();
        }
        if table.rows.is_empty() && !table.header.is_empty() {
            self.start_marked_line("");
            self.text(&table.header.join(", "));
        }
        self.end_block();
    }

    fn finish(mut self) -> String {
        if self.in_code {
            // A partial answer inside a fence: close it so the snapshot renders as code.
            if !self.line_start {
                self.newline();
            }
            self.text("```");
        }
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::to_wecom;

    #[test]
    fn plain_text_and_line_breaks_stay_as_they_are() {
        assert_eq!(to_wecom("echo: one\ntwo\nthree"), "echo: one\ntwo\nthree");
        assert_eq!(to_wecom("第一段。\n\n第二段。"), "第一段。\n\n第二段。");
        assert_eq!(to_wecom(""), "");
    }

    #[test]
    fn tables_become_lists_of_header_value_pairs() {
        let md = "| Name | Age |\n|---|---|\n| Ann | 31 |\n| Bob | 42 |\n\nAfter.";
        assert_eq!(to_wecom(md), "- Name: Ann, Age: 31\n- Name: Bob, Age: 42\n\nAfter.");
    }

    #[test]
    fn headings_and_emphasis_are_normalized() {
        assert_eq!(to_wecom("Title\n=====\n\ntext"), "# Title\n\ntext");
        assert_eq!(to_wecom("### Part ###"), "### Part");
        assert_eq!(to_wecom("__bold__ and _it_ and ~~gone~~"), "**bold** and *it* and ~~gone~~");
    }

    #[test]
    fn code_fences_are_kept_and_a_partial_one_is_closed() {
        let md = "Run:\n\n```rust\nfn main() {}\n```\n\ndone";
        assert_eq!(to_wecom(md), "Run:\n\n```rust\nfn main() {}\n```\n\ndone");
        assert_eq!(to_wecom("```sh\nls -l"), "```sh\nls -l\n```");
        assert_eq!(to_wecom("    indented"), "```\nindented\n```");
    }

    #[test]
    fn lists_quotes_links_and_images_are_kept_readable() {
        assert_eq!(to_wecom("* a\n* b\n  1. x\n  2. y"), "- a\n- b\n  1. x\n  2. y");
        assert_eq!(to_wecom("> quoted\n> more"), "> quoted\n> more");
        assert_eq!(to_wecom("> a\n>\n> b\n\nafter"), "> a\n>\n> b\n\nafter");
        assert_eq!(to_wecom("see [docs](https://x.y) and `code`"), "see [docs](https://x.y) and `code`");
        assert_eq!(to_wecom("![chart](https://x.y/c.png)"), "[chart](https://x.y/c.png)");
        assert_eq!(to_wecom("- [x] done\n- [ ] todo"), "- [x] done\n- [ ] todo");
    }
}
