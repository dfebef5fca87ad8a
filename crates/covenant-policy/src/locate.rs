//! Maps document paths (`retention[2].categories[0]`) to byte spans in the source text, for TOML
//! and YAML alike, so that semantic lints can point at file:line:col.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Parser};
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{DocPath, Seg};

/// Spans of every node of a document, by path.
#[derive(Debug, Default)]
pub struct Locator {
    spans: HashMap<Vec<Seg>, Range<usize>>,
    /// Spans of keys (for "unknown key" and "missing key" pointing at the table's header).
    key_spans: HashMap<Vec<Seg>, Range<usize>>,
}

impl Locator {
    /// The span of the node at `path`, or of its nearest located ancestor.
    pub fn span(&self, path: &DocPath) -> Option<Range<usize>> {
        let mut p = path.0.clone();
        loop {
            if let Some(s) = self.spans.get(&p) {
                return Some(s.clone());
            }
            if let Some(s) = self.key_spans.get(&p) {
                return Some(s.clone());
            }
            p.pop()?;
        }
    }

    /// The span of the key at `path` (falls back to the value span).
    pub fn key_span(&self, path: &DocPath) -> Option<Range<usize>> {
        self.key_spans.get(&path.0).cloned().or_else(|| self.span(path))
    }

    /// Builds a locator for TOML text; `None` when the text does not parse.
    pub fn toml(text: &str) -> Option<Locator> {
        let table = DeTable::parse(text).ok()?;
        let mut loc = Locator::default();
        let mut path = Vec::new();
        loc.walk_toml_table(table.get_ref(), &mut path);
        Some(loc)
    }

    fn walk_toml_table(&mut self, table: &DeTable<'_>, path: &mut Vec<Seg>) {
        for (k, v) in table.iter() {
            path.push(Seg::Key(k.get_ref().to_string()));
            self.key_spans.insert(path.clone(), k.span());
            self.spans.insert(path.clone(), v.span());
            self.walk_toml_value(v.get_ref(), path);
            path.pop();
        }
    }

    fn walk_toml_value(&mut self, value: &DeValue<'_>, path: &mut Vec<Seg>) {
        match value {
            DeValue::Table(t) => self.walk_toml_table(t, path),
            DeValue::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.spans.insert(path.clone(), v.span());
                    self.walk_toml_value(v.get_ref(), path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Builds a locator for YAML text; `None` when the text does not parse.
    pub fn yaml(text: &str) -> Option<Locator> {
        let mut parser = Parser::new_from_str(text);
        let mut loc = Locator::default();
        // A stack of open containers: for mappings, the pending key; for sequences, the next index.
        enum Frame {
            Map { path: Vec<Seg>, key: Option<String> },
            Seq { path: Vec<Seg>, next: usize },
        }
        let mut stack: Vec<Frame> = Vec::new();
        // Where the node being started lives.
        fn node_path(stack: &mut [Frame]) -> Option<Vec<Seg>> {
            match stack.last_mut() {
                None => Some(Vec::new()),
                Some(Frame::Map { path, key: Some(k) }) => {
                    let mut p = path.clone();
                    p.push(Seg::Key(k.clone()));
                    Some(p)
                }
                Some(Frame::Map { key: None, .. }) => None, // this node is a key
                Some(Frame::Seq { path, next }) => {
                    let mut p = path.clone();
                    p.push(Seg::Index(*next));
                    *next += 1;
                    Some(p)
                }
            }
        }
        fn finish_value(stack: &mut [Frame]) {
            if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                *key = None;
            }
        }
        while let Some(next) = parser.next_event() {
            let (event, span) = next.ok()?;
            let range = span.start.index()..span.end.index().max(span.start.index());
            let range = char_to_byte(text, range);
            match event {
                Event::Scalar(value, ..) => match node_path(&mut stack) {
                    Some(p) => {
                        loc.spans.insert(p, range);
                        finish_value(&mut stack);
                    }
                    None => {
                        if let Some(Frame::Map { path, key }) = stack.last_mut() {
                            let mut p = path.clone();
                            p.push(Seg::Key(value.to_string()));
                            loc.key_spans.insert(p, range);
                            *key = Some(value.to_string());
                        }
                    }
                },
                Event::MappingStart(..) => {
                    let p = node_path(&mut stack).unwrap_or_default();
                    loc.spans.entry(p.clone()).or_insert(range);
                    stack.push(Frame::Map { path: p, key: None });
                }
                Event::SequenceStart(..) => {
                    let p = node_path(&mut stack).unwrap_or_default();
                    loc.spans.entry(p.clone()).or_insert(range);
                    stack.push(Frame::Seq { path: p, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    finish_value(&mut stack);
                }
                Event::Alias(..) if node_path(&mut stack).is_some() => finish_value(&mut stack),
                _ => {}
            }
        }
        Some(loc)
    }
}

/// The YAML parser counts characters; diagnostics work in bytes.
fn char_to_byte(text: &str, chars: Range<usize>) -> Range<usize> {
    if text.is_ascii() {
        return chars.start.min(text.len())..chars.end.min(text.len());
    }
    let byte_at = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(b, _)| b);
    byte_at(chars.start)..byte_at(chars.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(segs: &[&str]) -> DocPath {
        DocPath(
            segs.iter()
                .map(|s| s.parse::<usize>().map(Seg::Index).unwrap_or_else(|_| Seg::Key((*s).to_owned())))
                .collect(),
        )
    }

    #[test]
    fn toml_paths_reach_array_of_tables_items() {
        let text = "schema = 1\n[[retention]]\nid = \"a\"\ncategories = [\"user.x\", \"user.y\"]\n";
        let loc = Locator::toml(text).unwrap();
        let span = loc.span(&p(&["retention", "0", "categories", "1"])).unwrap();
        assert_eq!(&text[span], "\"user.y\"");
        let key = loc.key_span(&p(&["retention", "0", "id"])).unwrap();
        assert_eq!(&text[key], "id");
        // A missing key falls back to its table.
        assert!(loc.span(&p(&["retention", "0", "nope"])).is_some());
    }

    #[test]
    fn yaml_paths_reach_nested_items() {
        let text = "schema: 1\nretention:\n  - id: a\n    categories: [user.x, user.y]\n  - id: b\n";
        let loc = Locator::yaml(text).unwrap();
        let span = loc.span(&p(&["retention", "0", "categories", "1"])).unwrap();
        assert_eq!(&text[span], "user.y");
        let span = loc.span(&p(&["retention", "1", "id"])).unwrap();
        assert_eq!(&text[span], "b");
        let key = loc.key_span(&p(&["retention", "1", "id"])).unwrap();
        assert_eq!(&text[key], "id");
    }
}
