//! The source files of a project, with line/column lookup for diagnostics.

use codespan_reporting::files::{self, Files};
use std::ops::Range;
use std::path::PathBuf;

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// One source file: its path as the user named it, and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path shown in diagnostics.
    pub name: String,
    /// The path on disk (for resolving relative `json "..."` schema paths).
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

/// The files of a project.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<Source>,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<String>, path: PathBuf, text: String) -> FileId {
        let line_starts = files::line_starts(&text).collect();
        self.files.push(Source { name: name.into(), path, text, line_starts });
        self.files.len() - 1
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> &Source {
        &self.files[id]
    }

    /// Every file with its id.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &Source)> {
        self.files.iter().enumerate()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The line and column of a byte offset (clamped into the file).
    pub fn line_col(&self, id: FileId, offset: usize) -> LineCol {
        let src = &self.files[id];
        let offset = floor_char_boundary(&src.text, offset.min(src.text.len()));
        let line = src.line_starts.partition_point(|&s| s <= offset) - 1;
        let column = src.text[src.line_starts[line]..offset].chars().count();
        LineCol { line: line + 1, column: column + 1 }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl<'a> Files<'a> for Sources {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.get(id).map(|f| f.name.as_str()).ok_or(files::Error::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.get(id).map(|f| f.text.as_str()).ok_or(files::Error::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, files::Error> {
        let f = self.files.get(id).ok_or(files::Error::FileMissing)?;
        Ok(f.line_starts.partition_point(|&s| s <= byte_index).saturating_sub(1))
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, files::Error> {
        let f = self.files.get(id).ok_or(files::Error::FileMissing)?;
        let start = *f
            .line_starts
            .get(line_index)
            .ok_or(files::Error::LineTooLarge { given: line_index, max: f.line_starts.len() - 1 })?;
        let end = f.line_starts.get(line_index + 1).copied().unwrap_or(f.text.len());
        Ok(start..end)
    }
}
