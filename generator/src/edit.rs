//! Editing the inventory while keeping its comments, order and formatting
//! (toml_edit). Every edit is: take the lock, read, change the document,
//! re-parse and validate the new text, then replace the file atomically.
//! Nothing is written when the result would be invalid.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::fsutil::{write_atomic, InventoryLock};
use crate::inventory::{LoadError, Loaded};
use crate::validate::{self, Problems};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Invalid(Problems),
    #[error("{0}")]
    Refused(String),
    #[error("cannot write {}: {source}", crate::fsutil::shown(path))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {}: {source}", crate::fsutil::shown(path))]
    Lock { path: PathBuf, source: std::io::Error },
}

/// An open, locked inventory being edited.
pub struct Editor {
    _lock: InventoryLock,
    pub path: PathBuf,
    pub before: Loaded,
    /// The document being edited, parsed on the first change. Change it
    /// through the methods below, so that an untouched inventory is never
    /// parsed for editing, re-serialized or rewritten.
    doc: Option<DocumentMut>,
    touched: bool,
    /// Temp files a killed hearth had left, removed by [`Editor::open`].
    pub swept: Vec<PathBuf>,
}

impl Editor {
    /// Locks and reads the inventory. The current file must be valid: an edit
    /// never builds on a broken inventory.
    pub fn open(path: &Path) -> Result<Self, EditError> {
        let lock = InventoryLock::acquire(path).map_err(|source| EditError::Lock { path: path.into(), source })?;
        let before = Loaded::read(path)?;
        validate::check(&before).map_err(EditError::Invalid)?;
        // Every writer comes through here (with the lock held): the temps a
        // killed run left go first.
        let swept = crate::fsutil::remove_stale_temps(&crate::fsutil::repo_root(path));
        Ok(Self { _lock: lock, path: path.into(), before, doc: None, touched: false, swept })
    }

    /// The editable document, marked as changed.
    pub fn doc_mut(&mut self) -> &mut DocumentMut {
        self.touched = true;
        // `before.text` parsed as TOML already (Loaded::parse), so it parses here too.
        self.doc.get_or_insert_with(|| self.before.text.parse().expect("the inventory parsed once already"))
    }

    /// The edited text parsed and validated, without writing.
    pub fn preview(&self) -> Result<std::borrow::Cow<'_, Loaded>, EditError> {
        if !self.touched {
            // Unchanged: `before` was parsed and validated by `open`.
            return Ok(std::borrow::Cow::Borrowed(&self.before));
        }
        let text = self.doc.as_ref().map(|d| d.to_string()).unwrap_or_else(|| self.before.text.clone());
        let loaded = Loaded::parse(&self.path, text)?;
        validate::check(&loaded).map_err(|p| EditError::Invalid(p.with_mode(validate::Mode::AfterChange)))?;
        Ok(std::borrow::Cow::Owned(loaded))
    }

    /// Validates and writes the edited inventory atomically. Returns the new
    /// inventory. Writes nothing when the text did not change.
    pub fn commit(self) -> Result<Loaded, EditError> {
        if !self.touched {
            return Ok(self.before);
        }
        let loaded = self.preview()?.into_owned();
        if loaded.text != self.before.text {
            write_atomic(&self.path, loaded.text.as_bytes()).map_err(|source| EditError::Write { path: self.path.clone(), source })?;
        }
        Ok(loaded)
    }

    /// The table `[section.name]`, created (after the last table of that
    /// section) when missing. `section` itself stays implicit, so the file
    /// reads `[hosts.vps]`, never a bare `[hosts]`.
    pub fn entry_table(&mut self, section: &str, name: &str) -> &mut Table {
        let root = self.doc_mut().as_table_mut();
        if !root.contains_key(section) {
            let mut t = Table::new();
            t.set_implicit(true);
            root.insert(section, Item::Table(t));
        }
        let sec = table_in(root, section);
        if !sec.contains_key(name) {
            let last = sec.iter().filter_map(|(_, i)| i.as_table().and_then(Table::position)).max();
            let mut t = Table::new();
            if let Some(p) = last {
                t.set_position(p);
            }
            sec.insert(name, Item::Table(t));
        }
        table_in(sec, name)
    }

    /// Removes `[section.name]`; false when it was not there.
    pub fn remove_entry(&mut self, section: &str, name: &str) -> bool {
        self.doc_mut().get_mut(section).and_then(Item::as_table_like_mut).and_then(|t| t.remove(name)).is_some()
    }

    /// A top-level table such as `[network]`, created when missing.
    pub fn section(&mut self, section: &str) -> &mut Table {
        let root = self.doc_mut().as_table_mut();
        if !root.contains_key(section) {
            root.insert(section, Item::Table(Table::new()));
        }
        table_in(root, section)
    }
}

/// The table at `parent[key]`, as a standard table: an inline table
/// (`admin = { recipients = [...] }`, `[peers] x = { ... }`) becomes the
/// equivalent `[...]` table so it can be edited like any other, its
/// comments kept above the new header. Anything that is not a table
/// (validation has ruled it out for inventories hearth loaded) is replaced by
/// an empty table rather than panicking.
fn table_in<'a>(parent: &'a mut Table, key: &str) -> &'a mut Table {
    if !parent[key].is_table() {
        // The comment lines above `key = { ... }` belong to the key; a
        // header `[key]` cannot hold them, so they move above the header.
        let above = parent.key_mut(key).and_then(|mut k| {
            let p = k.leaf_decor().prefix().and_then(|s| s.as_str()).map(str::to_owned);
            k.leaf_decor_mut().clear();
            p
        });
        let taken = std::mem::take(&mut parent[key]);
        let mut table = match taken {
            Item::Value(Value::InlineTable(t)) => {
                // A comment after the inline table (`x = { ... } # note`).
                let note = t.decor().suffix().and_then(|s| s.as_str()).map(str::trim).filter(|s| s.starts_with('#')).map(str::to_owned);
                let mut table = t.into_table();
                let mut prefix = above.unwrap_or_default();
                if let Some(n) = note {
                    prefix.push_str(&format!("{n}\n"));
                }
                table.decor_mut().set_prefix(if prefix.is_empty() { "\n".to_owned() } else { format!("\n{}", prefix.trim_start_matches('\n')) });
                table
            }
            _ => Table::new(),
        };
        table.set_implicit(false);
        parent[key] = Item::Table(table);
    }
    match &mut parent[key] {
        Item::Table(t) => t,
        _ => unreachable!("made a table above"),
    }
}

/// A TOML array of strings.
pub fn str_array<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> Item {
    let mut a = toml_edit::Array::new();
    for i in items {
        a.push(i.as_ref());
    }
    Item::Value(Value::Array(a))
}

/// Appends `v` to the string array `key` of `t` unless present. True when added.
pub fn array_add(t: &mut Table, key: &str, v: &str) -> bool {
    if !t.contains_key(key) {
        t.insert(key, str_array::<[&str; 0], &str>([]));
    }
    let Some(a) = t[key].as_array_mut() else { return false };
    if a.iter().any(|x| x.as_str() == Some(v)) {
        return false;
    }
    // In a one-per-line array, what follows the last value (its `# comment`
    // and the newline) belongs to that value: the new value goes on a line
    // of its own after it, indented like it.
    let trailing = a.trailing().as_str().unwrap_or("").to_owned();
    let indent = a.iter().last().and_then(|x| x.decor().prefix()).and_then(|p| p.as_str()).and_then(|p| p.rfind('\n').map(|i| p[i + 1..].to_owned()));
    a.push(v);
    if let (Some(indent), true) = (indent, trailing.contains('\n')) {
        let (keep, close) = trailing.rsplit_once('\n').unwrap_or((&trailing, ""));
        if let Some(last) = a.iter_mut().last() {
            last.decor_mut().set_prefix(format!("{keep}\n{indent}"));
        }
        a.set_trailing(format!("\n{close}"));
        a.set_trailing_comma(true);
    }
    true
}

/// Removes `v` from the string array `key` of `t`. True when removed.
pub fn array_remove(t: &mut Table, key: &str, v: &str) -> bool {
    let Some(a) = t.get_mut(key).and_then(Item::as_array_mut) else { return false };
    let before = a.len();
    a.retain(|x| x.as_str() != Some(v));
    a.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_add_keeps_a_trailing_comment_with_its_value() {
        // issue 19: `admin add` put the new key above the previous key's
        // trailing comment, so that comment labelled the wrong key.
        let mut doc: DocumentMut = "[admin]\nrecipients = [\n  \"a\", # alice\n  \"b\", # bob\n]\n".parse().unwrap();
        assert!(array_add(doc["admin"].as_table_mut().unwrap(), "recipients", "c"));
        assert_eq!(doc.to_string(), "[admin]\nrecipients = [\n  \"a\", # alice\n  \"b\", # bob\n  \"c\",\n]\n");
        let mut one: DocumentMut = "r = [\"a\"]\n".parse().unwrap();
        assert!(array_add(one.as_table_mut(), "r", "b"));
        assert_eq!(one.to_string(), "r = [\"a\", \"b\"]\n");
    }
}
