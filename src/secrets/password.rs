//! GetRandomPassword: a random password from the AWS character classes, as a pure function of its
//! options and the operating system's CSPRNG.
//!
//! The classes are lowercase `a`–`z`, uppercase `A`–`Z`, digits `0`–`9`, the 32 ASCII punctuation
//! characters ([`PUNCTUATION`]) and, only when asked for, the space. `ExcludeCharacters` removes
//! any character it lists from every class.
//!
//! With `RequireEachIncludedType` (the default) the password holds at least one character of each
//! included class among lowercase, uppercase, digits and punctuation; the space is never required,
//! as AWS documents the option. The password is built without positional bias: one random
//! character from each required class, the rest drawn from the union of all included classes,
//! then a Fisher–Yates shuffle. Every index is drawn by rejection sampling, never `byte % n`.
//!
//! AWS reports impossible combinations as `InvalidParameterException`; this crate has no such
//! kind, so they are validation errors, like the length bounds.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The length when the caller gives none.
pub const DEFAULT_PASSWORD_LENGTH: i64 = 32;
/// The shortest password AWS accepts to generate.
pub const MIN_PASSWORD_LENGTH: i64 = 1;
/// The longest password AWS accepts to generate.
pub const MAX_PASSWORD_LENGTH: i64 = 4096;
/// The most characters `ExcludeCharacters` may list.
pub const MAX_EXCLUDE_CHARACTERS: usize = 4096;

/// Lowercase letters.
pub const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
/// Uppercase letters.
pub const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Digits.
pub const DIGITS: &str = "0123456789";
/// The 32 ASCII punctuation characters AWS draws from.
pub const PUNCTUATION: &str = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##;

/// The options of GetRandomPassword, as the request carries them. `Default` is AWS's default
/// request: 32 characters from every class but the space, at least one of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordOptions {
    /// 1–4096; `None` is 32.
    pub password_length: Option<i64>,
    /// Characters never to use, at most 4096 of them.
    pub exclude_characters: String,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub include_space: bool,
    /// At least one character of each included class; `None` is `true`.
    pub require_each_included_type: Option<bool>,
}

impl PasswordOptions {
    /// The requested length, with AWS's default.
    pub fn length(&self) -> i64 {
        self.password_length.unwrap_or(DEFAULT_PASSWORD_LENGTH)
    }

    /// Whether each included class must appear, with AWS's default.
    pub fn require_each_included_type(&self) -> bool {
        self.require_each_included_type.unwrap_or(true)
    }
}

/// GetRandomPassword: validates `options` and draws a password from the OS CSPRNG.
pub fn get_random_password(options: &PasswordOptions) -> Result<Zeroizing<String>> {
    let plan = Plan::new(options)?;
    let mut sampler = Sampler::new();
    let mut password = Zeroizing::new(Vec::with_capacity(plan.length));
    for class in &plan.required {
        password.push(class[sampler.below(class.len())?]);
    }
    while password.len() < plan.length {
        password.push(plan.pool[sampler.below(plan.pool.len())?]);
    }
    // Fisher–Yates: position i takes a uniformly chosen element of 0..=i.
    for i in (1..password.len()).rev() {
        let j = sampler.below(i + 1)?;
        password.swap(i, j);
    }
    // All ASCII; `from_utf8` takes the buffer without copying it, so nothing is left behind.
    let bytes = std::mem::take(&mut *password);
    let password = String::from_utf8(bytes).map_err(|err| {
        // Unreachable: every class is ASCII. Zeroize what would otherwise be dropped.
        drop(Zeroizing::new(err.into_bytes()));
        Error::internal("An internal error occurred while generating the password.")
    })?;
    Ok(Zeroizing::new(password))
}

/// What to draw, once the options are validated.
#[derive(Debug)]
struct Plan {
    length: usize,
    /// One class per required type, each non-empty.
    required: Vec<Vec<u8>>,
    /// The union of every included class, non-empty.
    pool: Vec<u8>,
}

impl Plan {
    fn new(options: &PasswordOptions) -> Result<Self> {
        let length = options.length();
        if length < MIN_PASSWORD_LENGTH {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{length}' at 'passwordLength' failed to satisfy \
                 constraint: Member must have value greater than or equal to {MIN_PASSWORD_LENGTH}"
            )));
        }
        if length > MAX_PASSWORD_LENGTH {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{length}' at 'passwordLength' failed to satisfy \
                 constraint: Member must have value less than or equal to {MAX_PASSWORD_LENGTH}"
            )));
        }
        let length = usize::try_from(length).expect("1..=4096 fits in usize");
        if options.exclude_characters.chars().count() > MAX_EXCLUDE_CHARACTERS {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'excludeCharacters' failed to satisfy \
                 constraint: Member must have length less than or equal to {MAX_EXCLUDE_CHARACTERS}"
            )));
        }

        let mut excluded = [false; 128];
        for c in options.exclude_characters.chars() {
            if c.is_ascii() {
                excluded[c as usize] = true;
            }
        }
        let keep =
            |set: &str| -> Vec<u8> { set.bytes().filter(|&b| !excluded[usize::from(b)]).collect() };

        let classes = [
            ("lowercase letters", options.exclude_lowercase, LOWERCASE),
            ("uppercase letters", options.exclude_uppercase, UPPERCASE),
            ("numbers", options.exclude_numbers, DIGITS),
            ("punctuation", options.exclude_punctuation, PUNCTUATION),
        ];
        let require = options.require_each_included_type();
        let mut required = Vec::new();
        let mut pool = Vec::new();
        for (name, flag_excluded, set) in classes {
            if flag_excluded {
                continue;
            }
            let class = keep(set);
            if class.is_empty() {
                if require {
                    return Err(Error::validation(format!(
                        "RequireEachIncludedType cannot be satisfied: ExcludeCharacters removes every \
                         one of the {name}. Exclude the {name} explicitly, or set \
                         RequireEachIncludedType to false."
                    )));
                }
                continue;
            }
            pool.extend_from_slice(&class);
            if require {
                required.push(class);
            }
        }
        if pool.is_empty() {
            return Err(Error::validation(
                "The options exclude every character type: at least one of lowercase letters, \
                 uppercase letters, numbers or punctuation must remain.",
            ));
        }
        if options.include_space && !excluded[usize::from(b' ')] {
            pool.push(b' ');
        }
        if required.len() > length {
            return Err(Error::validation(format!(
                "RequireEachIncludedType cannot be satisfied: a password of length {length} cannot \
                 hold one character of each of the {} included character types. Use a longer \
                 PasswordLength, exclude some types, or set RequireEachIncludedType to false.",
                required.len()
            )));
        }
        Ok(Self {
            length,
            required,
            pool,
        })
    }
}

/// Uniform indices from the OS CSPRNG, by rejection sampling over 32-bit draws. The random bytes
/// decide the password, so the buffer zeroizes on drop and on refill.
struct Sampler {
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
}

impl Sampler {
    const REFILL: usize = 1024;

    fn new() -> Self {
        Self {
            buf: Zeroizing::new(Vec::new()),
            pos: 0,
        }
    }

    fn next_u32(&mut self) -> Result<u32> {
        if self.pos + 4 > self.buf.len() {
            self.buf = crate::crypto::random_bytes(Self::REFILL)?;
            self.pos = 0;
        }
        let word: [u8; 4] = self.buf[self.pos..self.pos + 4]
            .try_into()
            .expect("four bytes");
        self.pos += 4;
        Ok(u32::from_le_bytes(word))
    }

    /// A uniform index in `0..n`, for `1 <= n <= 2^32`: draws falling in the incomplete last
    /// block of `n` values are rejected, so every residue is equally likely.
    fn below(&mut self, n: usize) -> Result<usize> {
        let n = u64::try_from(n).expect("usize fits in u64");
        assert!((1..=1 << 32).contains(&n), "sampling range out of bounds");
        let zone = (1u64 << 32) - (1u64 << 32) % n;
        loop {
            let v = u64::from(self.next_u32()?);
            if v < zone {
                return Ok(usize::try_from(v % n).expect("below n, which came from a usize"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn opts() -> PasswordOptions {
        PasswordOptions::default()
    }

    fn has(password: &str, set: &str) -> bool {
        password.chars().any(|c| set.contains(c))
    }

    fn is_validation(result: Result<Zeroizing<String>>) -> String {
        let err = result.expect_err("the options should be refused");
        assert_eq!(err.kind, ErrorKind::Validation, "{err:?}");
        err.message
    }

    #[test]
    fn punctuation_is_the_32_ascii_punctuation_characters() {
        assert_eq!(PUNCTUATION.len(), 32);
        assert!(PUNCTUATION.chars().all(|c| c.is_ascii_punctuation()));
        let all: usize = (0u8..128).filter(|b| b.is_ascii_punctuation()).count();
        assert_eq!(all, 32);
    }

    #[test]
    fn defaults_give_32_characters_with_every_class() {
        for _ in 0..200 {
            let password = get_random_password(&opts()).unwrap();
            assert_eq!(password.len(), 32);
            assert!(has(&password, LOWERCASE), "{}", *password);
            assert!(has(&password, UPPERCASE), "{}", *password);
            assert!(has(&password, DIGITS), "{}", *password);
            assert!(has(&password, PUNCTUATION), "{}", *password);
            assert!(!password.contains(' '));
        }
    }

    #[test]
    fn every_class_is_present_even_in_a_four_character_password() {
        let o = PasswordOptions {
            password_length: Some(4),
            ..opts()
        };
        for _ in 0..500 {
            let password = get_random_password(&o).unwrap();
            assert_eq!(password.len(), 4);
            for set in [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION] {
                assert!(has(&password, set), "{}", *password);
            }
        }
    }

    #[test]
    fn each_exclude_flag_removes_its_class() {
        type SetFlag = fn(&mut PasswordOptions);
        let cases: [(SetFlag, &str); 4] = [
            (|o| o.exclude_lowercase = true, LOWERCASE),
            (|o| o.exclude_uppercase = true, UPPERCASE),
            (|o| o.exclude_numbers = true, DIGITS),
            (|o| o.exclude_punctuation = true, PUNCTUATION),
        ];
        for (set_flag, set) in cases {
            let mut o = PasswordOptions {
                password_length: Some(256),
                ..opts()
            };
            set_flag(&mut o);
            for _ in 0..50 {
                let password = get_random_password(&o).unwrap();
                assert_eq!(password.len(), 256);
                assert!(!has(&password, set), "{set}: {}", *password);
                // The other classes are still required, hence present.
                for other in [LOWERCASE, UPPERCASE, DIGITS, PUNCTUATION] {
                    if other != set {
                        assert!(has(&password, other), "{}", *password);
                    }
                }
            }
        }
    }

    #[test]
    fn exclude_characters_never_appear() {
        let o = PasswordOptions {
            password_length: Some(4096),
            exclude_characters: "aeiouAEIOU01lI|\"'\\`".to_string(),
            include_space: true,
            ..opts()
        };
        for _ in 0..50 {
            let password = get_random_password(&o).unwrap();
            assert_eq!(password.len(), 4096);
            assert!(
                !password.chars().any(|c| o.exclude_characters.contains(c)),
                "an excluded character appeared"
            );
        }
    }

    #[test]
    fn exclude_characters_can_exclude_the_space_and_ignores_non_ascii() {
        let o = PasswordOptions {
            password_length: Some(4096),
            exclude_characters: " é€😀".to_string(),
            include_space: true,
            ..opts()
        };
        let password = get_random_password(&o).unwrap();
        assert!(!password.contains(' '));
        assert!(password.is_ascii());
    }

    #[test]
    fn include_space_adds_the_space() {
        let o = PasswordOptions {
            password_length: Some(4096),
            include_space: true,
            ..opts()
        };
        // 4096 draws from 95 characters: no space has probability (94/95)^4096 ≈ 1e-19.
        let password = get_random_password(&o).unwrap();
        assert!(password.contains(' '));
        let without = get_random_password(&PasswordOptions {
            password_length: Some(4096),
            ..opts()
        })
        .unwrap();
        assert!(!without.contains(' '));
    }

    #[test]
    fn length_bounds() {
        let with_length = |n| PasswordOptions {
            password_length: Some(n),
            require_each_included_type: Some(false),
            ..opts()
        };
        assert_eq!(get_random_password(&with_length(1)).unwrap().len(), 1);
        assert_eq!(get_random_password(&with_length(4096)).unwrap().len(), 4096);
        for bad in [0, -1, 4097, i64::MIN, i64::MAX] {
            let message = is_validation(get_random_password(&with_length(bad)));
            assert!(message.contains("passwordLength"), "{message}");
        }
    }

    #[test]
    fn exclude_characters_is_limited_to_4096_characters() {
        let at_limit = PasswordOptions {
            exclude_characters: "a".repeat(4096),
            ..opts()
        };
        let password = get_random_password(&at_limit).unwrap();
        assert!(!password.contains('a'));
        let over = PasswordOptions {
            exclude_characters: "€".repeat(4097),
            ..opts()
        };
        let message = is_validation(get_random_password(&over));
        assert!(message.contains("excludeCharacters"), "{message}");
    }

    #[test]
    fn impossible_combinations_are_refused() {
        let everything = PasswordOptions {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_punctuation: true,
            ..opts()
        };
        is_validation(get_random_password(&everything));
        // The space alone is not a password, whatever RequireEachIncludedType says.
        for require in [None, Some(false)] {
            is_validation(get_random_password(&PasswordOptions {
                include_space: true,
                require_each_included_type: require,
                ..everything.clone()
            }));
        }
        // ExcludeCharacters emptying the only class left.
        is_validation(get_random_password(&PasswordOptions {
            exclude_characters: DIGITS.to_string(),
            exclude_numbers: false,
            require_each_included_type: Some(false),
            ..everything.clone()
        }));
        // Four required types do not fit in three characters.
        let message = is_validation(get_random_password(&PasswordOptions {
            password_length: Some(3),
            ..opts()
        }));
        assert!(message.contains("RequireEachIncludedType"), "{message}");
        // A required type emptied by ExcludeCharacters.
        let message = is_validation(get_random_password(&PasswordOptions {
            exclude_characters: PUNCTUATION.to_string(),
            ..opts()
        }));
        assert!(message.contains("punctuation"), "{message}");
    }

    #[test]
    fn without_require_each_type_an_emptied_class_is_just_skipped() {
        let o = PasswordOptions {
            password_length: Some(64),
            exclude_characters: PUNCTUATION.to_string(),
            require_each_included_type: Some(false),
            ..opts()
        };
        let password = get_random_password(&o).unwrap();
        assert_eq!(password.len(), 64);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn without_require_each_type_a_single_character_is_allowed() {
        let o = PasswordOptions {
            password_length: Some(1),
            require_each_included_type: Some(false),
            ..opts()
        };
        for _ in 0..100 {
            let password = get_random_password(&o).unwrap();
            assert_eq!(password.len(), 1);
            assert!(password.chars().all(|c| c.is_ascii_graphic()));
        }
        // With one type only, one character satisfies RequireEachIncludedType too.
        let digits_only = PasswordOptions {
            password_length: Some(1),
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_punctuation: true,
            ..opts()
        };
        let password = get_random_password(&digits_only).unwrap();
        assert!(password.chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn digits_are_roughly_uniform() {
        let o = PasswordOptions {
            password_length: Some(4000),
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_punctuation: true,
            ..opts()
        };
        let mut counts = [0usize; 10];
        for _ in 0..5 {
            for b in get_random_password(&o).unwrap().bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        // 20,000 draws: mean 2000, standard deviation ≈ 42; ±25% is about 12 deviations.
        assert_eq!(counts.iter().sum::<usize>(), 20_000);
        for (digit, &count) in counts.iter().enumerate() {
            assert!((1500..=2500).contains(&count), "digit {digit}: {count}");
        }
    }

    #[test]
    fn required_characters_are_not_stuck_in_front() {
        // Length 2 with digits and lowercase required: after the shuffle the digit leads half
        // the time. 2,000 draws: mean 1000, deviation ≈ 22; 700..=1300 is about 13 deviations.
        let o = PasswordOptions {
            password_length: Some(2),
            exclude_uppercase: true,
            exclude_punctuation: true,
            ..opts()
        };
        let mut digit_first = 0;
        for _ in 0..2000 {
            let password = get_random_password(&o).unwrap();
            let bytes = password.as_bytes();
            assert!(bytes[0].is_ascii_digit() != bytes[1].is_ascii_digit());
            if bytes[0].is_ascii_digit() {
                digit_first += 1;
            }
        }
        assert!((700..=1300).contains(&digit_first), "{digit_first}");
    }

    #[test]
    fn sampler_stays_in_range_and_covers_it() {
        let mut sampler = Sampler::new();
        for n in [1, 2, 3, 7, 95, 4096] {
            let mut seen = vec![false; n];
            for _ in 0..(n * 40).max(100) {
                let i = sampler.below(n).unwrap();
                assert!(i < n);
                seen[i] = true;
            }
            assert!(seen.iter().all(|&s| s), "n = {n}");
        }
    }
}
