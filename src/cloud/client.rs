//! The signed RDS v3 / VPC v3 client: two GET calls, signed by the DRS credentials through
//! [`Auth::sign_request`] (one signer for DRS, DNS, RDS and VPC), the API's errors kept.

use super::model::*;
use crate::config::Config;
use crate::drs::auth::Auth;
use crate::drs::error::ErrorBody;
use crate::secret::redact;
use std::time::Duration;

/// VPC v3 answers at most this many rules a page (`ListSecurityGroupRulesRequest.limit`, 1-2000).
const RULES_PAGE: u32 = 2000;
/// A security group has far fewer rules than this many pages hold: stop a marker that loops.
const MAX_PAGES: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{service} {call}: HTTP {status} {code}: {message}")]
    Api {
        service: &'static str,
        call: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{service} {call}: cannot reach {base_url}: {reason} (check drs.{service_key}_endpoint and the network)", service_key = service.to_ascii_lowercase())]
    Unreachable {
        service: &'static str,
        call: &'static str,
        base_url: String,
        reason: String,
    },
    #[error("{service} {call}: unexpected answer (HTTP {status}): {reason}")]
    Decode {
        service: &'static str,
        call: &'static str,
        status: u16,
        reason: String,
    },
    #[error("RDS/VPC configuration: {0}")]
    Config(String),
}

#[derive(Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    rds_base: String,
    vpc_base: String,
    project_id: String,
    auth: Auth,
}

impl std::fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudClient")
            .field("rds_base", &self.rds_base)
            .field("vpc_base", &self.vpc_base)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl CloudClient {
    /// A client for the configured RDS and VPC endpoints with the DRS credentials.
    pub fn from_config(cfg: &Config) -> Result<CloudClient, CloudError> {
        let auth = Auth::from_config(&cfg.drs).map_err(|e| CloudError::Config(e.to_string()))?;
        CloudClient::new(cfg, auth)
    }

    pub fn new(cfg: &Config, auth: Auth) -> Result<CloudClient, CloudError> {
        if cfg.drs.project_id.trim().is_empty() {
            return Err(CloudError::Config(
                "drs.project_id is empty: set it in wavedeck.yaml or WAVEDECK_DRS_PROJECT_ID"
                    .into(),
            ));
        }
        let timeout_s = cfg.drs.timeout_s.max(1);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout_s))
            .connect_timeout(Duration::from_secs(timeout_s.min(10)))
            .build()
            .map_err(|e| CloudError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(CloudClient {
            http,
            rds_base: cfg.rds_base_url(),
            vpc_base: cfg.vpc_base_url(),
            project_id: cfg.drs.project_id.clone(),
            auth,
        })
    }

    async fn get<R: serde::de::DeserializeOwned>(
        &self,
        service: &'static str,
        call: &'static str,
        base: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<R, CloudError> {
        self.send(reqwest::Method::GET, service, call, base, path, query, None)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send<R: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        service: &'static str,
        call: &'static str,
        base: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<R, CloudError> {
        let mut url = reqwest::Url::parse(&format!("{base}{path}"))
            .map_err(|e| CloudError::Config(format!("{base}{path} is not a URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        // Content-Type on a GET too, as Huawei's SDKs send it.
        let mut req = self
            .http
            .request(method, url)
            .header("X-Project-Id", &self.project_id)
            .header("Content-Type", "application/json");
        if let Some(b) = body {
            req = req.body(b);
        }
        let mut req = req.build().map_err(|e| CloudError::Config(e.to_string()))?;
        self.auth
            .sign_request(&mut req)
            .map_err(|e| CloudError::Config(format!("cannot sign {service} {call}: {e}")))?;
        let unreachable = |e: reqwest::Error| {
            let mut reason = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                reason = format!("{reason}: {s}");
                src = s.source();
            }
            CloudError::Unreachable {
                service,
                call,
                base_url: base.to_string(),
                reason,
            }
        };
        let resp = self.http.execute(req).await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        if !(200..300).contains(&status) {
            let owned = self.auth.secrets();
            let secrets: Vec<&crate::secret::Secret> = owned.iter().collect();
            let (code, message) = match ErrorBody::extract(&bytes) {
                Some((c, m, _)) => (c, m),
                None => (
                    String::new(),
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
                ),
            };
            return Err(CloudError::Api {
                service,
                call,
                status,
                code,
                message: redact(&message, &secrets),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| CloudError::Decode {
            service,
            call,
            status,
            reason: e.to_string(),
        })
    }

    /// The RDS instance with this id, or `None` when the project has none (RDS answers an
    /// unknown id with an empty list, not an error).
    pub async fn instance(&self, id: &str) -> Result<Option<InstanceResponse>, CloudError> {
        let found = self.list_instances(("id", id.to_string())).await?;
        Ok(found.into_iter().find(|i| i.id == id))
    }

    /// RDS `ListInstances` filtered by one query field (`id` or `name`).
    async fn list_instances(
        &self,
        filter: (&str, String),
    ) -> Result<Vec<InstanceResponse>, CloudError> {
        let path = format!("/v3/{}/instances", self.project_id);
        let r: ListInstancesResponse = self
            .get("RDS", "list-instances", &self.rds_base, &path, &[filter])
            .await?;
        Ok(r.instances)
    }

    /// Every rule of a security group, page by page.
    pub async fn security_group_rules(
        &self,
        security_group_id: &str,
    ) -> Result<Vec<SecurityGroupRule>, CloudError> {
        let path = format!("/v3/{}/vpc/security-group-rules", self.project_id);
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = vec![
                ("limit", RULES_PAGE.to_string()),
                ("security_group_id", security_group_id.to_string()),
            ];
            if let Some(m) = &marker {
                q.push(("marker", m.clone()));
            }
            let r: ListSecurityGroupRulesResponse = self
                .get(
                    "VPC",
                    "list-security-group-rules",
                    &self.vpc_base,
                    &path,
                    &q,
                )
                .await?;
            let n = r.security_group_rules.len();
            out.extend(r.security_group_rules);
            match r.page_info.and_then(|p| p.next_marker) {
                Some(next) if n > 0 && Some(&next) != marker.as_ref() => marker = Some(next),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The instance's backups (RDS `ListBackups`, one page of up to 100).
    pub async fn backups(&self, instance_id: &str) -> Result<Vec<BackupForList>, CloudError> {
        let path = format!("/v3/{}/backups", self.project_id);
        let r: ListBackupsResponse = self
            .get(
                "RDS",
                "list-backups",
                &self.rds_base,
                &path,
                &[
                    ("instance_id", instance_id.to_string()),
                    ("limit", "100".into()),
                ],
            )
            .await?;
        Ok(r.backups)
    }

    /// Restore a backup or a point in time to a new instance (RDS `CreateRestoreInstance`).
    pub async fn restore_to_new(
        &self,
        body: &CreateRestoreInstanceRequestBody,
    ) -> Result<CreateRestoreInstanceResponse, CloudError> {
        let path = format!("/v3/{}/instances", self.project_id);
        let bytes = serde_json::to_vec(body).map_err(|e| CloudError::Config(e.to_string()))?;
        self.send(
            reqwest::Method::POST,
            "RDS",
            "create-restore-instance",
            &self.rds_base,
            &path,
            &[],
            Some(bytes),
        )
        .await
    }

    /// The instances named `name` (RDS `ListInstances?name=`: an exact match, as the name
    /// holds no leading `*`).
    pub async fn instances_named(&self, name: &str) -> Result<Vec<InstanceResponse>, CloudError> {
        self.list_instances(("name", name.to_string())).await
    }

    /// RDS `DeleteInstance`.
    pub async fn delete_instance(&self, id: &str) -> Result<DeleteInstanceResponse, CloudError> {
        let path = format!("/v3/{}/instances/{id}", self.project_id);
        self.send(
            reqwest::Method::DELETE,
            "RDS",
            "delete-instance",
            &self.rds_base,
            &path,
            &[],
            None,
        )
        .await
    }
}
