//! "Did you mean": the nearest candidate by edit distance.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let cl = c.to_lowercase();
        let d = if cl == lower { 0 } else { strsim::damerau_levenshtein(&lower, &cl) };
        // Allow about one edit per three characters, at least one; a name that merely adds to
        // or drops the end of a candidate (`lowercase` for `lower`) also counts.
        let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
        let prefix = cl.len().min(lower.len()) >= 3 && (cl.starts_with(&lower) || lower.starts_with(&cl));
        let d = if prefix { d.min(limit) } else { d };
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A help line `did you mean `x`?` for the nearest candidate.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    nearest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Common time zone abbreviations and the IANA zone most users mean by them. The abbreviations
/// name an offset, not a place: a zone also follows its daylight saving time.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("PST", "America/Los_Angeles"),
    ("PDT", "America/Los_Angeles"),
    ("PT", "America/Los_Angeles"),
    ("MDT", "America/Denver"),
    ("MT", "America/Denver"),
    ("CST", "America/Chicago"),
    ("CDT", "America/Chicago"),
    ("CT", "America/Chicago"),
    ("EDT", "America/New_York"),
    ("ET", "America/New_York"),
    ("AKST", "America/Anchorage"),
    ("AKDT", "America/Anchorage"),
    ("HDT", "Pacific/Honolulu"),
    ("AST", "America/Halifax"),
    ("ADT", "America/Halifax"),
    ("NST", "America/St_Johns"),
    ("NDT", "America/St_Johns"),
    ("BRT", "America/Sao_Paulo"),
    ("ART", "America/Argentina/Buenos_Aires"),
    ("BST", "Europe/London"),
    ("IST", "Asia/Kolkata"),
    ("CEST", "Europe/Paris"),
    ("WEST", "Europe/Lisbon"),
    ("EEST", "Europe/Athens"),
    ("MSK", "Europe/Moscow"),
    ("GST", "Asia/Dubai"),
    ("PKT", "Asia/Karachi"),
    ("ICT", "Asia/Bangkok"),
    ("WIB", "Asia/Jakarta"),
    ("SGT", "Asia/Singapore"),
    ("HKT", "Asia/Hong_Kong"),
    ("JST", "Asia/Tokyo"),
    ("KST", "Asia/Seoul"),
    ("AWST", "Australia/Perth"),
    ("ACST", "Australia/Adelaide"),
    ("ACDT", "Australia/Adelaide"),
    ("AEST", "Australia/Sydney"),
    ("AEDT", "Australia/Sydney"),
    ("NZST", "Pacific/Auckland"),
    ("NZDT", "Pacific/Auckland"),
    ("SAST", "Africa/Johannesburg"),
    ("WAT", "Africa/Lagos"),
    ("EAT", "Africa/Nairobi"),
];

/// The IANA zone to suggest for a time zone name the database does not know, and whether it
/// comes from the table of abbreviations (`PST`) rather than from spelling (`Europe/Pari`).
pub fn time_zone(name: &str) -> (Option<String>, bool) {
    let upper = name.trim().to_ascii_uppercase();
    if let Some((_, zone)) = ABBREVIATIONS.iter().find(|(a, _)| *a == upper) {
        return (Some(zone.to_string()), true);
    }
    let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    (nearest(name, names.iter().map(String::as_str)).map(str::to_string), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_case() {
        assert_eq!(nearest("Purchse", ["Purchase", "CartAdd"]), Some("Purchase"));
        assert_eq!(nearest("cartadd", ["Purchase", "CartAdd"]), Some("CartAdd"));
        assert_eq!(nearest("zzz", ["Purchase", "CartAdd"]), None);
        assert_eq!(time_zone("PST"), (Some("America/Los_Angeles".into()), true));
        assert_eq!(time_zone("jst"), (Some("Asia/Tokyo".into()), true));
        assert_eq!(time_zone("Europe/Stokholm"), (Some("Europe/Stockholm".into()), false));
        assert_eq!(nearest("lowercase", ["lower", "upper"]), Some("lower"));
        assert_eq!(
            nearest("commerce.purchase", ["commerce.purchases", "commerce.productViews"]),
            Some("commerce.purchases")
        );
    }
}
