//! The process's shared outside clients and required settings: one AWS SDK
//! configuration, one outbound HTTP client, each built on first use.

/// The one HTTP client of the process for exchanges and Esplora, built on
/// first use (and so its root certificates loaded once, and only then).
pub fn outbound_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .user_agent(concat!("satsgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("outbound HTTP client")
    })
}

/// A variable the Lambda environment must set (see template.yaml).
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

/// The AWS SDK configuration, loaded once per process and shared by every
/// AWS client (one HTTP client, one credentials chain, one certificate load).
pub async fn aws_sdk_config() -> &'static aws_config::SdkConfig {
    static CONF: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();
    CONF.get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
        .await
}
