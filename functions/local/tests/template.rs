//! The SAM template agrees with the code: the table's keys, indexes and TTL
//! are the ones the domain's ports define (and `strata_aws::create_table`
//! builds from), and each function's environment holds exactly what its
//! configuration reads, with values it accepts.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use common::template::{Template, resolve};
use serde_yaml::Value;
use strata_domain::ports::table::{Index, PK, SK, TTL_ATTRIBUTE};
use strata_lambda_kit::{ConfigError, EnvReader};

/// Read by every function outside its configuration: the log filter of
/// `strata_lambda_kit::logging::init`.
const RUNTIME_VARS: [&str; 1] = ["RUST_LOG"];

#[test]
fn the_table_has_the_keys_indexes_and_ttl_the_code_uses() {
    let template = Template::load();
    let table = template.resource("Table");
    let props = &table["Properties"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        key_schema(&props["KeySchema"]),
        [(PK, "HASH"), (SK, "RANGE")]
    );

    let mut wanted: BTreeSet<&str> = BTreeSet::from([PK, SK]);
    let mut indexes = BTreeMap::new();
    for index in Index::ALL {
        wanted.extend([index.pk_attr(), index.sk_attr()]);
        indexes.insert(
            index.name().to_owned(),
            vec![
                (index.pk_attr().to_owned(), "HASH".to_owned()),
                (index.sk_attr().to_owned(), "RANGE".to_owned()),
            ],
        );
    }
    let definitions: BTreeMap<&str, &str> = props["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|d| (str_of(&d["AttributeName"]), str_of(&d["AttributeType"])))
        .collect();
    assert_eq!(definitions.keys().copied().collect::<BTreeSet<_>>(), wanted);
    assert!(
        definitions.values().all(|t| *t == "S"),
        "every key is a string"
    );

    let declared: BTreeMap<String, Vec<(String, String)>> = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GlobalSecondaryIndexes")
        .iter()
        .map(|gsi| {
            assert_eq!(gsi["Projection"]["ProjectionType"], "ALL");
            let keys = key_schema(&gsi["KeySchema"])
                .into_iter()
                .map(|(a, k)| (a.to_owned(), k.to_owned()))
                .collect();
            (str_of(&gsi["IndexName"]).to_owned(), keys)
        })
        .collect();
    assert_eq!(declared, indexes);

    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"],
        TTL_ATTRIBUTE
    );
    assert_eq!(props["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(props["SSESpecification"]["SSEType"], "KMS");
}

#[test]
fn every_function_gets_exactly_the_settings_its_configuration_reads() {
    let template = Template::load();
    let functions = template.functions();
    assert!(
        functions.len() >= 5,
        "the template lost functions: {functions:?}"
    );
    for (logical, binary) in functions {
        let env = template.environment(&logical);
        let read = Rc::new(RefCell::new(BTreeSet::new()));
        let lookup = {
            let (env, read) = (env.clone(), read.clone());
            move |name: &str| {
                read.borrow_mut().insert(name.to_owned());
                env.get(name).cloned()
            }
        };
        let outcome = read_configuration(&binary, EnvReader::from_lookup(lookup));
        let Some(outcome) = outcome else {
            panic!(
                "{logical} runs `{binary}`, whose configuration this test does not know: add its \
                 reader to read_configuration in functions/local/tests/template.rs"
            );
        };
        if let Err(error) = outcome {
            panic!("{logical} ({binary}): the template's environment is refused: {error}");
        }
        let mut known = read.borrow().clone();
        known.extend(RUNTIME_VARS.map(str::to_owned));
        known.extend(runtime_vars(&binary).iter().map(|v| (*v).to_owned()));
        let unread: Vec<&String> = env.keys().filter(|name| !known.contains(*name)).collect();
        assert!(
            unread.is_empty(),
            "{logical} ({binary}) sets variables nothing reads: {unread:?}"
        );
        for var in runtime_vars(&binary) {
            assert!(
                env.contains_key(*var),
                "{logical} ({binary}) needs {var} set"
            );
        }
    }
}

/// Sign-in: the own user pool's tokens carry what the claims mapping reads,
/// no user can write the attributes that say whom a token speaks for, and
/// every role has its group.
#[test]
fn the_user_pool_issues_the_claims_the_guard_reads_and_users_cannot_rewrite_them() {
    let template = Template::load();
    let pool = &template.resource("UserPool")["Properties"];
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        true
    );
    let attributes: Vec<String> = pool["Schema"]
        .as_sequence()
        .expect("custom attributes")
        .iter()
        .map(|a| format!("custom:{}", str_of(&a["Name"])))
        .collect();
    let client = &template.resource("UserPoolClient")["Properties"];
    let listed = |name: &str| -> Vec<String> {
        client[name]
            .as_sequence()
            .map(|v| v.iter().map(|a| str_of(a).to_owned()).collect())
            .unwrap_or_default()
    };
    for claim in [
        strata_auth::claims::POOL_CUSTOMER_ID,
        strata_auth::claims::POOL_SALESPERSON_ID,
    ] {
        assert!(
            attributes.iter().any(|a| a == claim),
            "{claim} is not in the pool"
        );
        assert!(
            listed("ReadAttributes").iter().any(|a| a == claim),
            "{claim} is not in the token"
        );
        assert!(
            !listed("WriteAttributes").iter().any(|a| a == claim),
            "users could rewrite {claim}"
        );
    }
    let groups: BTreeSet<String> = ["AdminGroup", "OpsGroup", "SalesGroup", "CustomerGroup"]
        .iter()
        .map(|logical| str_of(&template.resource(logical)["Properties"]["GroupName"]).to_owned())
        .collect();
    let roles: BTreeSet<String> = strata_domain::access::Role::ALL
        .iter()
        .map(|r| r.name().to_owned())
        .collect();
    assert_eq!(groups, roles);
    let jwt = &template.resource("HttpApi")["Properties"]["Auth"]["Authorizers"]["Jwt"];
    let issuer = format!("{:?}", jwt["JwtConfiguration"]["issuer"]);
    assert!(
        issuer.contains("OwnUserPool") && issuer.contains("cognito-idp"),
        "the authorizer does not trust the own pool: {issuer}"
    );
}

#[test]
fn the_churn_functions_find_onnx_runtime_where_the_package_puts_it() {
    let template = Template::load();
    for (logical, binary) in template.functions() {
        if binary.starts_with("churn-") {
            let env = template.environment(&logical);
            assert_eq!(
                env.get(strata_churn::model::DYLIB_VAR).map(String::as_str),
                Some("/var/task/lib/libonnxruntime.so"),
                "{logical}: the package (cargo xtask package) puts the library in lib/"
            );
        }
    }
}

/// Runs the binary's own configuration reader (the deployment's names and
/// the function's settings, as `Deployment::from_env` reads them); `None`
/// for an unknown binary.
fn read_configuration(binary: &str, mut env: EnvReader) -> Option<Result<(), ConfigError>> {
    strata_aws::DeploymentNames::read(&mut env);
    match binary {
        "ingest-api" | "ingest-import" => {
            strata_ingest::lambda::Settings::from_env(&mut env);
        }
        "churn-api" | "churn-batch" | "churn-retrain" => {
            strata_churn::lambda::Settings::from_env(&mut env);
        }
        "tiering-job" => {
            strata_tiering::lambda::Settings::from_env(&mut env);
        }
        "value-job" | "value-api" => {
            strata_value::lambda::Settings::from_env(&mut env);
        }
        "engage-job" | "engage-api" => {
            strata_engage::lambda::Settings::from_env(&mut env);
        }
        "recommend-api" | "recommend-job" => {
            strata_recommend::lambda::Settings::from_env(&mut env);
        }
        "backup-job" => {
            strata_backup::lambda::Settings::from_env(&mut env);
        }
        _ => return None,
    }
    Some(env.finish())
}

/// Variables a binary's libraries read directly, not through `EnvReader`.
fn runtime_vars(binary: &str) -> &'static [&'static str] {
    match binary {
        "churn-api" | "churn-batch" | "churn-retrain" => &[strata_churn::model::DYLIB_VAR],
        _ => &[],
    }
}

fn key_schema(value: &Value) -> Vec<(&str, &str)> {
    value
        .as_sequence()
        .expect("KeySchema")
        .iter()
        .map(|k| (str_of(&k["AttributeName"]), str_of(&k["KeyType"])))
        .collect()
}

fn str_of(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
}

#[test]
fn short_form_tags_resolve_like_cloudformation_would() {
    let template = Template::load();
    let value: Value =
        serde_yaml::from_str(r#"!Sub "s-${Stage}-${AWS::AccountId}-${Table.Arn}""#).expect("yaml");
    assert_eq!(
        resolve(&template, &value).as_deref(),
        Some("s-dev-123456789012-arn:aws:resource:::Table/Arn")
    );
    let absent: Value = serde_yaml::from_str(r#"!Ref "AWS::NoValue""#).expect("yaml");
    assert_eq!(resolve(&template, &absent), None);
}
