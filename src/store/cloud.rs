//! Cloud object stores from a backend URL: `s3://bucket/prefix`, `gs://…`, `az://…`.
//!
//! Settings come from three places, later ones winning: the environment (the standard
//! `AWS_*`, `GOOGLE_*` and `AZURE_*` variables, read by `object_store`'s `from_env`),
//! then the URL's query options (`?endpoint=http://127.0.0.1:9000&allow_http=true`),
//! which the repository config keeps. Secrets are refused in the URL, so they never
//! reach the config file or a log line: they belong in the environment.

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::path::Path as StorePath;

use super::error::StoreError;

type Result<T> = std::result::Result<T, StoreError>;

/// How long one request may keep being retried, unless `retry_timeout` says otherwise.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(120);

/// Reads kept in flight by a restore from a cloud store: each waits on a round trip,
/// so many more than cores keep the line busy.
pub const DEFAULT_PARALLEL_READS: usize = 16;

/// Options that are ours, not the store's.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The total time a request may take, retries included.
    pub retry_timeout: Duration,
    /// Reads a restore keeps in flight (`parallel_reads`).
    pub parallel_reads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
            parallel_reads: DEFAULT_PARALLEL_READS,
        }
    }
}

/// A parsed backend URL: the store's part, and its query options.
#[derive(Debug)]
pub struct CloudUrl {
    /// The URL without its query.
    pub base: url::Url,
    /// The store's own options, in the order given.
    pub options: Vec<(String, String)>,
    /// Our options.
    pub settings: Settings,
}

/// Key fragments that mark a secret: such options are refused in a URL.
const SECRET_MARKS: &[&str] = &[
    "secret",
    "access_key",
    "token",
    "password",
    "sas",
    "service_account_key",
    "client_secret",
];

impl CloudUrl {
    /// Splits `url` into the store URL and its options; refuses secrets and malformed
    /// values of our own options.
    pub fn parse(url: &url::Url) -> Result<CloudUrl> {
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        // Never the query in an error: it may hold the secret being refused.
        let bad = |reason: String| StoreError::Url {
            url: base.to_string(),
            reason,
        };
        let mut options = Vec::new();
        let mut settings = Settings::default();
        for (key, value) in url.query_pairs() {
            let key = key.to_ascii_lowercase();
            if SECRET_MARKS.iter().any(|m| key.contains(m)) {
                return Err(bad(format!(
                    "`{key}` is a secret and would be stored in the repository config: set it in the environment instead (e.g. AWS_SECRET_ACCESS_KEY, GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCESS_KEY)"
                )));
            }
            if key == "retry_timeout" {
                settings.retry_timeout = humantime::parse_duration(&value)
                    .map_err(|e| bad(format!("retry_timeout `{value}`: {e}")))?;
                continue;
            }
            if key == "parallel_reads" {
                settings.parallel_reads = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| {
                        bad(format!("parallel_reads `{value}`: a number from 1 to 256"))
                    })?;
                continue;
            }
            options.push((key, value.into_owned()));
        }
        Ok(CloudUrl {
            base,
            options,
            settings,
        })
    }
}

/// The retry policy of every store: retries bounded by the total deadline, not by a
/// small count (a connection drop must not give up after two seconds).
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn retry(settings: Settings) -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig::default(),
        max_retries: 1_000,
        retry_timeout: settings.retry_timeout,
    }
}

/// Whether a failed request may or may not have reached the store: it timed out or was
/// interrupted after it was sent. The store retries every other transient failure
/// itself (connect errors, 5xx, throttling) within the retry deadline.
#[must_use]
pub fn in_doubt(e: &object_store::Error) -> bool {
    #[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
    {
        use object_store::client::{HttpError, HttpErrorKind};
        let mut at: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = at {
            if let Some(http) = err.downcast_ref::<HttpError>() {
                return matches!(
                    http.kind(),
                    HttpErrorKind::Timeout | HttpErrorKind::Interrupted
                );
            }
            at = err.source();
        }
        false
    }
    #[cfg(not(any(feature = "s3", feature = "gcs", feature = "azure")))]
    {
        let _ = e;
        false
    }
}

/// Builds a store from a builder with the query options applied (keys the store does
/// not know are refused) and the retry policy.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
macro_rules! configure {
    ($builder:expr, $key:ty, $cloud:expr, $store:literal) => {{
        let mut builder = $builder.with_url($cloud.base.as_str());
        for (key, value) in &$cloud.options {
            let parsed: $key = key.parse().map_err(|_| StoreError::Url {
                url: $cloud.base.to_string(),
                reason: format!("`{key}` is not a {} option (see docs/backends.md)", $store),
            })?;
            builder = builder.with_config(parsed, value.clone());
        }
        let store = builder.with_retry(retry($cloud.settings)).build();
        store
            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            .map_err(|e| StoreError::Url {
                url: $cloud.base.to_string(),
                reason: e.to_string(),
            })
    }};
}

/// Builds the store a cloud URL names, with the environment and the URL's options;
/// `cap` bounds the retry deadline.
pub fn open(
    url: &url::Url,
    cap: Option<Duration>,
) -> Result<(Arc<dyn ObjectStore>, StorePath, Settings)> {
    let mut cloud = CloudUrl::parse(url)?;
    if let Some(cap) = cap {
        cloud.settings.retry_timeout = cloud.settings.retry_timeout.min(cap);
    }
    let bad = |reason: String| StoreError::Url {
        url: cloud.base.to_string(),
        reason,
    };
    let (scheme, path) =
        object_store::ObjectStoreScheme::parse(&cloud.base).map_err(|e| bad(e.to_string()))?;
    let prefix = StorePath::parse(path).map_err(|e| bad(e.to_string()))?;
    let store = build(&scheme, &cloud)?;
    Ok((store, prefix, cloud.settings))
}

#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn build(
    scheme: &object_store::ObjectStoreScheme,
    cloud: &CloudUrl,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::ObjectStoreScheme as S;
    match scheme {
        #[cfg(feature = "s3")]
        S::AmazonS3 => {
            use object_store::aws::{AmazonS3Builder as B, AmazonS3ConfigKey as K};
            configure!(B::from_env(), K, cloud, "S3")
        }
        #[cfg(feature = "gcs")]
        S::GoogleCloudStorage => {
            use object_store::gcp::{GoogleCloudStorageBuilder as B, GoogleConfigKey as K};
            configure!(B::from_env(), K, cloud, "Google Cloud Storage")
        }
        #[cfg(feature = "azure")]
        S::MicrosoftAzure => {
            use object_store::azure::{AzureConfigKey as K, MicrosoftAzureBuilder as B};
            configure!(B::from_env(), K, cloud, "Azure")
        }
        other => Err(unsupported(other, cloud)),
    }
}

#[cfg(not(any(feature = "s3", feature = "gcs", feature = "azure")))]
fn build(
    scheme: &object_store::ObjectStoreScheme,
    cloud: &CloudUrl,
) -> Result<Arc<dyn ObjectStore>> {
    let _ = &cloud.options;
    Err(unsupported(scheme, cloud))
}

fn unsupported(scheme: &object_store::ObjectStoreScheme, cloud: &CloudUrl) -> StoreError {
    StoreError::Url {
        url: cloud.base.to_string(),
        reason: format!(
            "{scheme:?} is not a backend this build of reel speaks (it needs the s3, gcs or azure feature)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CloudUrl> {
        CloudUrl::parse(&url::Url::parse(s).unwrap())
    }

    #[test]
    fn query_options_are_split_from_the_url() {
        let c = parse(
            "s3://bucket/pre/fix?endpoint=http://127.0.0.1:9000&Allow_HTTP=true&retry_timeout=30s",
        )
        .unwrap();
        assert_eq!(c.base.as_str(), "s3://bucket/pre/fix");
        assert_eq!(
            c.options,
            vec![
                ("endpoint".to_owned(), "http://127.0.0.1:9000".to_owned()),
                ("allow_http".to_owned(), "true".to_owned())
            ]
        );
        assert_eq!(c.settings.retry_timeout, Duration::from_secs(30));
    }

    #[test]
    fn secrets_are_refused_in_the_url() {
        for key in [
            "secret_access_key",
            "aws_session_token",
            "access_key",
            "sas_key",
            "token",
        ] {
            let err = parse(&format!("s3://b/p?{key}=x")).unwrap_err();
            assert!(err.to_string().contains("environment"), "{key}: {err}");
            assert!(
                !err.to_string().contains("=x"),
                "the value is not repeated: {err}"
            );
        }
    }

    #[test]
    fn a_bad_retry_timeout_is_refused() {
        assert!(parse("s3://b/p?retry_timeout=soon").is_err());
    }

    #[cfg(feature = "s3")]
    #[test]
    fn an_unknown_option_is_refused_not_ignored() {
        let url = url::Url::parse("s3://b/p?endpoint=http://127.0.0.1:1&allow_htp=true").unwrap();
        let err = open(&url, None).map(|_| ()).unwrap_err();
        assert!(
            err.to_string().contains("`allow_htp` is not a S3 option"),
            "{err}"
        );
    }
}
