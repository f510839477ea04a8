//! The process's shared outside clients: one AWS SDK configuration, one
//! outbound HTTP client, each built on first use.

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

/// The AWS SDK configuration, loaded once per process and shared by every
/// AWS client (one HTTP client, one credentials chain, one certificate load).
pub async fn aws_sdk_config() -> &'static aws_config::SdkConfig {
    static CONF: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();
    CONF.get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
        .await
}
