//! Corporate identifiers (graph-behaviour §9, beta only): whether Intune already holds a
//! `Manufacturer,Model,Serial` identifier, and importing one (never overwriting).
//!
//! Not for: building the identifier (`CorporateIdentifier::manufacturer_model_serial`).

use reqwest::Method;

use super::call::{Call, Sent, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::model::{CorporateIdentifier, ImportedIdentity};
use super::pages::Page;

const READ_IDENTITIES: Operation = Operation {
    name: "search corporate identifiers",
    permission: "DeviceManagementServiceConfig.Read.All",
};
const WRITE_IDENTITIES: Operation = Operation {
    name: "import corporate identifier",
    permission: "DeviceManagementServiceConfig.ReadWrite.All",
};

impl GraphClient {
    /// `POST /beta/deviceManagement/importedDeviceIdentities/searchExistingIdentities`: whether
    /// Intune already holds this corporate identifier.
    pub async fn corporate_identifier_exists(
        &self,
        id: &CorporateIdentifier,
    ) -> Result<bool, GraphError> {
        let path = "/deviceManagement/importedDeviceIdentities/searchExistingIdentities";
        let call = Call::new(
            Method::POST,
            Version::Beta,
            path,
            path.into(),
            READ_IDENTITIES,
        )
        .body(identity_list(id, None))
        .reads();
        let page: Page<ImportedIdentity> = Core::json(&call, &self.core.read(&call).await?)?;
        // Case rules for identifiers are unverified (graph-behaviour §9): compare without case.
        Ok(page.value.iter().any(|i| {
            i.imported_device_identifier
                .eq_ignore_ascii_case(id.as_str())
        }))
    }

    /// `POST /beta/deviceManagement/importedDeviceIdentities/importDeviceIdentityList` with
    /// `overwriteImportedDeviceIdentities: false`. Shadow mode: `status: Some(true)`, no id.
    pub async fn import_corporate_identifier(
        &self,
        id: &CorporateIdentifier,
    ) -> Result<ImportedIdentity, GraphError> {
        let path = "/deviceManagement/importedDeviceIdentities/importDeviceIdentityList";
        let op = WRITE_IDENTITIES;
        let call = Call::new(Method::POST, Version::Beta, path, path.into(), op)
            .body(identity_list(id, Some(false)));
        match self.core.write(&call).await? {
            Sent::Shadowed => Ok(ImportedIdentity {
                id: None,
                imported_device_identifier: id.as_str().to_owned(),
                status: Some(true),
            }),
            Sent::Reply(r) => {
                let page: Page<ImportedIdentity> = Core::json(&call, &r)?;
                page.value
                    .into_iter()
                    .next()
                    .ok_or_else(|| GraphError::InvalidResponse {
                        operation: op.name,
                        detail: "importDeviceIdentityList answered with no result".into(),
                    })
            }
        }
    }
}

fn identity_list(id: &CorporateIdentifier, overwrite: Option<bool>) -> serde_json::Value {
    let mut body = serde_json::json!({ "importedDeviceIdentities": [{
        "importedDeviceIdentifier": id.as_str(),
        "importedDeviceIdentityType": "manufacturerModelSerial",
    }]});
    if let Some(o) = overwrite {
        body["overwriteImportedDeviceIdentities"] = o.into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corporate_identifier_bodies_match_the_documented_shape() {
        let id = CorporateIdentifier::manufacturer_model_serial(
            "Lenovo",
            "thinkpad t14",
            &"02234567890123".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            identity_list(&id, Some(false)),
            serde_json::json!({"importedDeviceIdentities":[{"importedDeviceIdentifier":"Lenovo,thinkpad t14,02234567890123",
                "importedDeviceIdentityType":"manufacturerModelSerial"}],"overwriteImportedDeviceIdentities":false})
        );
    }
}
