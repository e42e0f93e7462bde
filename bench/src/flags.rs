//! The subcommands' `--flag [value]` arguments, read in order.

use std::str::FromStr;

/// A subcommand's arguments and its usage (said with every error).
pub struct Flags<'a> {
    it: std::slice::Iter<'a, String>,
    usage: &'a str,
}

impl<'a> Flags<'a> {
    /// `args` (after the subcommand), explained by `usage`.
    pub fn new(args: &'a [String], usage: &'a str) -> Self {
        Self {
            it: args.iter(),
            usage,
        }
    }

    /// The next flag, `None` after the last; `-h` or `--help` is the usage, as an error.
    pub fn next(&mut self) -> Result<Option<&'a str>, String> {
        match self.it.next().map(String::as_str) {
            Some("-h" | "--help") => Err(self.usage.to_owned()),
            next => Ok(next),
        }
    }

    /// The value that follows `flag`.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.it
            .next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value\n{}", self.usage))
    }

    /// The number that follows `flag`.
    pub fn number<T: FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.parse()
            .map_err(|_| format!("{flag} takes a number, got {v:?}\n{}", self.usage))
    }

    /// The error for a flag the subcommand does not take.
    pub fn unknown(&self, flag: &str) -> String {
        format!("unknown argument {flag}\n{}", self.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::Flags;

    #[test]
    fn flags_values_numbers_and_errors() {
        let args: Vec<String> = ["--n", "7", "--on", "--name", "x", "--bad", "q", "--last"]
            .map(String::from)
            .to_vec();
        let mut f = Flags::new(&args, "usage: t");
        assert_eq!(f.next().unwrap(), Some("--n"));
        assert_eq!(f.number::<u32>("--n").unwrap(), 7);
        assert_eq!(f.next().unwrap(), Some("--on"));
        assert_eq!(f.next().unwrap(), Some("--name"));
        assert_eq!(f.value("--name").unwrap(), "x");
        assert_eq!(f.next().unwrap(), Some("--bad"));
        let e = f.number::<u32>("--bad").unwrap_err();
        assert!(
            e.contains("--bad takes a number") && e.ends_with("usage: t"),
            "{e}"
        );
        assert_eq!(f.next().unwrap(), Some("--last"));
        assert!(f
            .value("--last")
            .unwrap_err()
            .contains("--last needs a value"));
        assert_eq!(f.next().unwrap(), None);
        assert_eq!(f.unknown("--zz"), "unknown argument --zz\nusage: t");
        let help = ["--help".to_owned()];
        assert_eq!(
            Flags::new(&help, "usage: t").next().unwrap_err(),
            "usage: t"
        );
    }
}
