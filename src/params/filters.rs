//! ParameterFilters of GetParametersByPath (Type, KeyId, Label) and DescribeParameters (also
//! Name, Path, Tier, DataType), parsed and applied as AWS does.

use super::{ParameterFilter, validate_path};
use crate::{
    error::{Error, ErrorKind, Result},
    model::{ParameterTier, ParameterType, ParameterVersionRecord},
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FilterUse {
    ByPath,
    Describe,
}

/// Parsed ParameterFilters.
#[derive(Default)]
pub(super) struct Filters {
    types: Option<Vec<ParameterType>>,
    key_ids: Option<Vec<String>>,
    labels: Option<Vec<String>>,
    tiers: Option<Vec<ParameterTier>>,
    data_types: Option<Vec<String>>,
    names: Option<(bool, Vec<String>)>,
    /// DescribeParameters' Path: the prefix and whether one level only.
    pub(super) path: Option<(String, bool)>,
}

impl Filters {
    pub(super) fn parse(filters: &[ParameterFilter], usage: FilterUse) -> Result<Self> {
        let bad_key = |key: &str| {
            Error::new(
                ErrorKind::InvalidFilterKey,
                format!("The filter key {key:?} is not valid here."),
            )
        };
        let bad_option = |key: &str, option: &str| {
            Error::new(
                ErrorKind::InvalidFilterValue,
                format!("The option {option:?} is not valid for the filter {key:?}."),
            )
        };
        let mut parsed = Filters::default();
        for filter in filters {
            if filter.values.is_empty() && filter.key != "Path" {
                return Err(Error::new(
                    ErrorKind::InvalidFilterValue,
                    format!("The filter {:?} needs at least one value.", filter.key),
                ));
            }
            let option = filter.option.as_str();
            let equals = || match option {
                "" | "Equals" => Ok(()),
                other => Err(bad_option(&filter.key, other)),
            };
            match (filter.key.as_str(), usage) {
                ("Type", _) => {
                    equals()?;
                    let types = filter
                        .values
                        .iter()
                        .map(|v| {
                            ParameterType::parse(v).ok_or_else(|| {
                                Error::new(
                                    ErrorKind::InvalidFilterValue,
                                    format!("{v:?} is not a parameter type."),
                                )
                            })
                        })
                        .collect::<Result<_>>()?;
                    parsed.types = Some(types);
                }
                ("KeyId", _) => {
                    equals()?;
                    parsed.key_ids = Some(filter.values.clone());
                }
                ("Label", _) => {
                    equals()?;
                    parsed.labels = Some(filter.values.clone());
                }
                ("Tier", FilterUse::Describe) => {
                    equals()?;
                    let tiers = filter
                        .values
                        .iter()
                        .map(|v| {
                            ParameterTier::parse(v).ok_or_else(|| {
                                Error::new(
                                    ErrorKind::InvalidFilterValue,
                                    format!("{v:?} is not a parameter tier."),
                                )
                            })
                        })
                        .collect::<Result<_>>()?;
                    parsed.tiers = Some(tiers);
                }
                ("DataType", FilterUse::Describe) => {
                    equals()?;
                    parsed.data_types = Some(filter.values.clone());
                }
                ("Name", FilterUse::Describe) => {
                    let begins = match option {
                        "" | "Equals" => false,
                        "BeginsWith" => true,
                        other => return Err(bad_option(&filter.key, other)),
                    };
                    parsed.names = Some((begins, filter.values.clone()));
                }
                ("Path", FilterUse::Describe) => {
                    let one_level = match option {
                        "" | "OneLevel" => true,
                        "Recursive" => false,
                        other => return Err(bad_option(&filter.key, other)),
                    };
                    let [path] = filter.values.as_slice() else {
                        return Err(Error::new(
                            ErrorKind::InvalidFilterValue,
                            "The Path filter takes exactly one path.",
                        ));
                    };
                    validate_path(path)?;
                    let prefix = match path.ends_with('/') {
                        true => path.clone(),
                        false => format!("{path}/"),
                    };
                    parsed.path = Some((prefix, one_level));
                }
                (key, _) => return Err(bad_key(key)),
            }
        }
        Ok(parsed)
    }

    pub(super) fn admit(&self, record: &ParameterVersionRecord) -> bool {
        let any = |values: &Option<Vec<String>>, f: &dyn Fn(&String) -> bool| {
            values.as_ref().is_none_or(|v| v.iter().any(f))
        };
        self.types
            .as_ref()
            .is_none_or(|t| t.contains(&record.parameter_type))
            && self.tiers.as_ref().is_none_or(|t| t.contains(&record.tier))
            && any(&self.key_ids, &|k| record.key_id.as_deref() == Some(k))
            && any(&self.labels, &|l| record.labels.contains(l))
            && any(&self.data_types, &|d| *d == record.data_type)
            && self.names.as_ref().is_none_or(|(begins, names)| {
                names.iter().any(|n| match begins {
                    true => record.name.starts_with(n.as_str()),
                    false => record.name == *n,
                })
            })
    }
}
