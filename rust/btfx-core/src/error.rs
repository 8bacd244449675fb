//! The one error type of the core. Every variant says where the problem is.

use std::fmt;

/// Which part of the input an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Header,
    Types,
    Strings,
    Layout,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Header => "header",
            Section::Types => "types",
            Section::Strings => "strings",
            Section::Layout => "layout",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of parsing, validating, rewriting BTF and reading ELF files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The blob cannot be parsed (header, section layout, record framing).
    #[error("{message}")]
    Format { message: String, section: Section, type_id: Option<u32>, offset: Option<u64> },
    /// The blob parses but breaks a rule the kernel checks (see docs/rules.md).
    #[error("{message}")]
    Validation {
        message: String,
        /// Where the rule looks: the type section; the string section (G1); the blob's
        /// size (G0), reported as the header.
        section: Section,
        type_id: Option<u32>,
        kind: Option<&'static str>,
        offset: Option<u64>,
    },
    /// An ELF file or compressed module is malformed or lacks the needed section.
    #[error("{message}")]
    Elf { message: String, section: Option<String>, offset: Option<u64> },
    /// Rebasing/detaching/retargeting is impossible for these inputs.
    #[error("{message}")]
    Rebase { message: String, type_id: Option<u32> },
    /// An operation's precondition on its inputs does not hold (wrong base, limits).
    #[error("{message}")]
    Input { message: String },
    /// Reading or writing a file failed.
    #[error("{message}")]
    Io { message: String, path: String },
}

impl Error {
    pub(crate) fn format(section: Section, message: impl Into<String>) -> Self {
        Error::Format { message: message.into(), section, type_id: None, offset: None }
    }

    /// A validation error about the whole blob or section, not one type.
    pub(crate) fn validation(section: Section, message: impl Into<String>) -> Self {
        Error::Validation {
            message: message.into(),
            section,
            type_id: None,
            kind: None,
            offset: None,
        }
    }

    pub(crate) fn format_at(
        section: Section,
        type_id: Option<u32>,
        offset: u64,
        message: impl Into<String>,
    ) -> Self {
        Error::Format { message: message.into(), section, type_id, offset: Some(offset) }
    }

    pub fn elf(message: impl Into<String>) -> Self {
        Error::Elf { message: message.into(), section: None, offset: None }
    }

    pub fn elf_section(section: &str, message: impl Into<String>) -> Self {
        Error::Elf { message: message.into(), section: Some(section.to_owned()), offset: None }
    }

    pub fn rebase(type_id: Option<u32>, message: impl Into<String>) -> Self {
        Error::Rebase { message: message.into(), type_id }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Error::Input { message: message.into() }
    }

    pub fn io(path: &std::path::Path, what: &str, err: &std::io::Error) -> Self {
        let path = path.display().to_string();
        Error::Io { message: format!("{path}: {what}: {err}"), path }
    }

    /// The type id this error is about, if any.
    pub fn type_id(&self) -> Option<u32> {
        match self {
            Error::Format { type_id, .. }
            | Error::Validation { type_id, .. }
            | Error::Rebase { type_id, .. } => *type_id,
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
