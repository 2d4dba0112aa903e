//! Attaches `///` comments to the declaration below them.

use crate::ast::SourceFile;

fn is_doc(text: &str) -> bool {
    text.starts_with("///") && !text.starts_with("////")
}

/// Sets `Item::doc` from the `///` lines directly above each item (only whitespace between).
pub(crate) fn attach(src: &str, file: &mut SourceFile) {
    let comments = &file.comments;
    for item in &mut file.items {
        let mut k = comments.partition_point(|c| c.span.end <= item.span.start);
        let mut next = item.span.start;
        let mut lines = Vec::new();
        while k > 0 {
            let c = &comments[k - 1];
            if !is_doc(&c.text) || !src[c.span.end..next].trim().is_empty() {
                break;
            }
            let body = &c.text[3..];
            lines.push(body.strip_prefix(' ').unwrap_or(body).trim_end().to_string());
            next = c.span.start;
            k -= 1;
        }
        if !lines.is_empty() {
            lines.reverse();
            item.doc = Some(lines.join("\n"));
        }
    }
}
