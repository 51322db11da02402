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
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {path}: {source}")]
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
}

impl Editor {
    /// Locks and reads the inventory. The current file must be valid: an edit
    /// never builds on a broken inventory.
    pub fn open(path: &Path) -> Result<Self, EditError> {
        let lock = InventoryLock::acquire(path).map_err(|source| EditError::Lock { path: path.into(), source })?;
        let before = Loaded::read(path)?;
        validate::check(&before).map_err(EditError::Invalid)?;
        Ok(Self { _lock: lock, path: path.into(), before, doc: None, touched: false })
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
        let sec = root[section].as_table_mut().expect("inventory sections are tables (validated)");
        if !sec.contains_key(name) {
            let last = sec.iter().filter_map(|(_, i)| i.as_table().and_then(Table::position)).max();
            let mut t = Table::new();
            if let Some(p) = last {
                t.set_position(p);
            }
            sec.insert(name, Item::Table(t));
        }
        sec[name].as_table_mut().expect("entries are tables")
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
        root[section].as_table_mut().expect("inventory sections are tables (validated)")
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
    a.push(v);
    true
}

/// Removes `v` from the string array `key` of `t`. True when removed.
pub fn array_remove(t: &mut Table, key: &str, v: &str) -> bool {
    let Some(a) = t.get_mut(key).and_then(Item::as_array_mut) else { return false };
    let before = a.len();
    a.retain(|x| x.as_str() != Some(v));
    a.len() != before
}
