//! A readable name for the device behind a session, from its user agent: the browser and
//! the system, as a person would say it ("Firefox on Windows"). Never more than that: the
//! rest of the string is the sender's to fake.

const BROWSERS: [(&str, &str); 6] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
];

const SYSTEMS: [(&str, &str); 6] = [
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

fn first(ua: &str, table: &[(&str, &'static str)]) -> Option<&'static str> {
    table.iter().find(|(m, _)| ua.contains(m)).map(|(_, n)| *n)
}

/// "Firefox on Windows", "Chrome", "Android", or the first 40 characters when unknown.
pub fn name(ua: &str) -> String {
    match (first(ua, &BROWSERS), first(ua, &SYSTEMS)) {
        (Some(b), Some(s)) => format!("{b} · {s}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => ua.chars().filter(|c| !c.is_control()).take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn common_agents_read_as_browser_and_system() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(name(firefox), "Firefox · Windows");
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
        assert_eq!(name(chrome), "Chrome · Android");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(name(safari), "Safari · iPhone");
        assert_eq!(name("reqwest"), "reqwest");
        assert_eq!(name(""), "");
    }
}
