//! Unit tests of the rules that need no store.

use super::*;

#[test]
fn tiers_hold_what_aws_says_and_never_go_back() {
    use ParameterTier::*;
    assert_eq!(resolve_tier(None, None, 4096).unwrap(), Standard);
    assert!(resolve_tier(None, None, 4097).is_err());
    assert_eq!(resolve_tier(Some(Advanced), None, 8192).unwrap(), Advanced);
    assert!(resolve_tier(Some(Advanced), None, 8193).is_err());
    assert_eq!(
        resolve_tier(Some(IntelligentTiering), None, 10).unwrap(),
        Standard
    );
    assert_eq!(
        resolve_tier(Some(IntelligentTiering), None, 5000).unwrap(),
        Advanced
    );
    // An Advanced parameter stays Advanced: by default, or through Intelligent-Tiering; asking
    // for Standard is refused.
    assert_eq!(resolve_tier(None, Some(Advanced), 10).unwrap(), Advanced);
    assert_eq!(
        resolve_tier(Some(IntelligentTiering), Some(Advanced), 10).unwrap(),
        Advanced
    );
    assert!(resolve_tier(Some(Standard), Some(Advanced), 10).is_err());
}

#[test]
fn allowed_patterns_match_the_whole_value_and_never_echo_it() {
    check_allowed_pattern("", "anything").unwrap();
    check_allowed_pattern("^\\d+$", "123").unwrap();
    check_allowed_pattern("\\d+", "123").unwrap();
    let err = check_allowed_pattern("\\d+", "12a-secret").unwrap_err();
    assert!(err.is(ErrorKind::ParameterPatternMismatch));
    assert!(!err.message.contains("secret"));
    assert!(
        check_allowed_pattern("(", "x")
            .unwrap_err()
            .is(ErrorKind::Validation)
    );
}
