//! Reading the MDM policy with the Azure CLI's signed-in account. azure_identity's
//! `AzureCliCredential` runs `az account get-access-token -o json --scope <Graph>/.default
//! --tenant <graph.tenant_id>` once (through `/bin/sh -c`, so `az` is whatever is first on
//! PATH); that token goes, for this one read only, to a Graph client built from `[graph]`
//! (base URL, extra CA, timeout). The token is decoded (not verified: it is fresh from `az`) to
//! say whose it is and which delegated permissions it carries.
//!
//! Not for: services. Their `graph.credential` has no Azure CLI choice: a service never runs
//! on a person's login.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_identity::{AzureCliCredential, AzureCliCredentialOptions};
use graph::{GraphClient, MdmScope, NoopObserver};
use shared::config::Settings;

/// Delegated permissions that read the MDM policy (graph-behaviour §10), least privileged first.
const POLICY_READ: [&str; 2] = ["Policy.Read.All", "Policy.ReadWrite.MobilityManagement"];
/// `az account get-access-token` answers in a second or two; a hung `az` must not hang preflight.
const AZ_PATIENCE: Duration = Duration::from_secs(60);

/// Why MDM user scope was not read.
#[derive(Debug)]
pub enum Unread {
    /// `az` answered that nobody is signed in (its own words).
    NotSignedIn(String),
    /// No `az` on PATH.
    NoAzureCli(String),
    /// `az` failed otherwise, or did not answer.
    NoToken(String),
    /// Graph answered 403 to the delegated token.
    Refused(SignedIn),
    /// Anything else (the client could not be built, Graph failed).
    Failed(String),
}

/// Whose token `az` gave, as its claims say.
#[derive(Debug, Clone, Default)]
pub struct SignedIn {
    pub upn: Option<String>,
    pub scopes: Vec<String>,
}

impl SignedIn {
    fn from_token(token: &str) -> SignedIn {
        let Ok(claims) = graph::claims_from_jwt(token) else {
            return SignedIn::default();
        };
        let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        SignedIn {
            upn: text("upn").or_else(|| text("unique_name")),
            scopes: text("scp")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// `admin@contoso.test through the Azure CLI`.
    pub fn describe(&self) -> String {
        match &self.upn {
            Some(upn) => format!("{upn} through the Azure CLI"),
            None => "the Azure CLI's account".to_owned(),
        }
    }

    pub fn has_policy_read(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| POLICY_READ.contains(&s.as_str()))
    }

    pub fn scopes_text(&self) -> String {
        if self.scopes.is_empty() {
            "none".to_owned()
        } else {
            self.scopes.join(" ")
        }
    }
}

/// One `az` run for a token, then `GET /beta/policies/mobileDeviceManagementPolicies/{intune}`.
pub async fn read_mdm_scope(settings: &Settings) -> Result<(MdmScope, SignedIn), Unread> {
    let token = azure_cli_token(settings).await?;
    let who = SignedIn::from_token(token.token.secret());
    let graph = GraphClient::with_credential(
        &settings.graph,
        Arc::new(AlreadyObtained(token)),
        Arc::new(NoopObserver),
    )
    .map_err(|e| Unread::Failed(e.to_string()))?;
    match graph.mdm_user_scope().await {
        Ok(MdmScope::NotReadableWithApplicationPermissions) => Err(Unread::Refused(who)),
        Ok(scope) => Ok((scope, who)),
        Err(e) => Err(Unread::Failed(e.to_string())),
    }
}

async fn azure_cli_token(settings: &Settings) -> Result<AccessToken, Unread> {
    let tenant = settings.graph.tenant_id.trim();
    let options = AzureCliCredentialOptions {
        tenant_id: (!tenant.is_empty()).then(|| tenant.to_owned()),
        ..Default::default()
    };
    let credential = AzureCliCredential::new(Some(options))
        .map_err(|e| Unread::NoToken(format!("graph.tenant_id: {e}")))?;
    let scope = graph::graph_scope(&settings.graph.base_url);
    match tokio::time::timeout(AZ_PATIENCE, credential.get_token(&[&scope], None)).await {
        Ok(Ok(token)) => Ok(token),
        Ok(Err(e)) => Err(classify(&e.to_string())),
        Err(_) => Err(Unread::NoToken(format!(
            "az did not answer within {}s",
            AZ_PATIENCE.as_secs()
        ))),
    }
}

/// azure_identity's message is "AzureCliCredential authentication failed. <az's stderr, or
/// 'az not found on PATH'>\nTo troubleshoot, visit …": keep what `az` said.
fn classify(message: &str) -> Unread {
    let said = message
        .trim_start_matches("AzureCliCredential authentication failed.")
        .split("To troubleshoot")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if said.contains("az login") {
        Unread::NotSignedIn(said)
    } else if said.contains("not found on PATH") || said.contains("wasn't found on PATH") {
        Unread::NoAzureCli(said)
    } else {
        Unread::NoToken(said)
    }
}

/// The token `az` gave, handed to the Graph client as it is: `AzureCliCredential` does not
/// cache, so this keeps preflight at one `az` run.
#[derive(Debug)]
struct AlreadyObtained(AccessToken);

#[async_trait::async_trait]
impl TokenCredential for AlreadyObtained {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_identitys_messages_are_sorted_by_cause() {
        let link =
            "\nTo troubleshoot, visit https://aka.ms/azsdk/rust/identity/troubleshoot#azure-cli";
        let login = format!(
            "AzureCliCredential authentication failed. Please run 'az login' to setup account.{link}"
        );
        assert!(
            matches!(classify(&login), Unread::NotSignedIn(s) if s == "Please run 'az login' to setup account.")
        );
        let missing =
            format!("AzureCliCredential authentication failed. az not found on PATH{link}");
        assert!(matches!(classify(&missing), Unread::NoAzureCli(_)));
        let other =
            format!("AzureCliCredential authentication failed. ERROR: something else{link}");
        assert!(matches!(classify(&other), Unread::NoToken(s) if s == "ERROR: something else"));
    }

    #[test]
    fn no_service_can_be_configured_to_run_on_a_persons_azure_cli_login() {
        let env = [("ONBOARDING__GRAPH__CREDENTIAL", "azure_cli")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let err = shared::config::load(None, env).expect_err("azure_cli is no graph.credential");
        assert!(format!("{err:#}").contains("graph.credential"), "{err:#}");
    }

    #[test]
    fn the_signed_in_account_and_its_scopes_come_from_the_token() {
        use base64::Engine;
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.sig",
            enc.encode(r#"{"alg":"none"}"#),
            enc.encode(r#"{"upn":"admin@contoso.test","scp":"User.Read Policy.Read.All"}"#)
        );
        let who = SignedIn::from_token(&token);
        assert_eq!(who.describe(), "admin@contoso.test through the Azure CLI");
        assert!(who.has_policy_read());
        assert!(!SignedIn::from_token("opaque").has_policy_read());
        assert_eq!(SignedIn::default().scopes_text(), "none");
    }
}
