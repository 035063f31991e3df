//! Paging over `@odata.nextLink`. Graph (and the emulator, with 5 items a page) splits every
//! collection; a client that reads only the first page silently misses devices and users.
//!
//! Not for: sending requests. `collect_pages` is handed a fetch function, so the loop (and its
//! guards against a nextLink that loops or points at another host) is tested over recorded JSON.

use std::collections::HashSet;
use std::future::Future;

use serde::Deserialize;
use url::Url;

use super::error::GraphError;

/// One page of a collection.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// Upper bound on pages per listing: at ~1000 items a page (real Graph) that is far beyond any
/// tenant we serve, and it stops a server that never ends its nextLink chain.
pub const MAX_PAGES: usize = 10_000;

/// Checks that a nextLink stays on the Graph host we were configured with, so the bearer token
/// is never sent anywhere else.
pub fn check_next_link(base: &Url, link: &str, operation: &'static str) -> Result<Url, GraphError> {
    let url = Url::parse(link).map_err(|e| GraphError::InvalidResponse {
        operation,
        detail: format!("@odata.nextLink is not a URL: {e}"),
    })?;
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin {
        return Err(GraphError::InvalidResponse {
            operation,
            detail: format!(
                "@odata.nextLink points to {}, not to the configured Graph host",
                url.origin().ascii_serialization()
            ),
        });
    }
    Ok(url)
}

/// Collects every item, starting from `first` and asking `fetch_next` for each nextLink.
pub async fn collect_pages<T, F, Fut>(
    base: &Url,
    operation: &'static str,
    first: Page<T>,
    mut fetch_next: F,
) -> Result<Vec<T>, GraphError>
where
    F: FnMut(Url) -> Fut,
    Fut: Future<Output = Result<Page<T>, GraphError>>,
{
    let mut items = first.value;
    let mut next = first.next_link;
    let mut seen = HashSet::new();
    while let Some(link) = next.take() {
        if !seen.insert(link.clone()) || seen.len() > MAX_PAGES {
            return Err(GraphError::InvalidResponse {
                operation,
                detail: format!("paging did not end after {} pages", seen.len()),
            });
        }
        let page = fetch_next(check_next_link(base, &link, operation)?).await?;
        items.extend(page.value);
        next = page.next_link;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> Url {
        Url::parse("https://graph.test:8443").unwrap()
    }

    /// Three pages of five (and one of two) as an emulator would record them.
    fn recorded() -> HashMap<String, String> {
        let mut pages = HashMap::new();
        for (n, ids) in [(1, 5..10), (2, 10..12)] {
            let next = if n == 1 {
                r#","@odata.nextLink":"https://graph.test:8443/v1.0/users?$skiptoken=p2""#
            } else {
                ""
            };
            let value: Vec<String> = ids.map(|i| format!(r#"{{"id":"u{i}"}}"#)).collect();
            pages.insert(
                format!("https://graph.test:8443/v1.0/users?$skiptoken=p{n}"),
                format!(r#"{{"value":[{}]{next}}}"#, value.join(",")),
            );
        }
        pages
    }

    #[derive(Debug, Deserialize)]
    struct Item {
        id: String,
    }

    fn first_page() -> Page<Item> {
        let ids: Vec<String> = (0..5).map(|i| format!(r#"{{"id":"u{i}"}}"#)).collect();
        serde_json::from_str(&format!(
            r#"{{"@odata.context":"x","value":[{}],"@odata.nextLink":"https://graph.test:8443/v1.0/users?$skiptoken=p1"}}"#,
            ids.join(",")
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn follows_next_links_until_the_last_page() {
        let pages = recorded();
        let items = collect_pages(&base(), "list users", first_page(), |url| {
            let body = pages[url.as_str()].clone();
            async move { Ok(serde_json::from_str::<Page<Item>>(&body).unwrap()) }
        })
        .await
        .unwrap();
        let ids: Vec<String> = items.into_iter().map(|i| i.id).collect();
        let expected: Vec<String> = (0..12).map(|i| format!("u{i}")).collect();
        assert_eq!(ids, expected);
    }

    #[tokio::test]
    async fn a_next_link_to_another_host_is_refused_before_any_request() {
        let mut first = first_page();
        first.next_link = Some("https://evil.example/v1.0/users?$skiptoken=p1".into());
        let res = collect_pages(&base(), "list users", first, |_| async {
            panic!("must not fetch")
        })
        .await;
        assert!(
            matches!(res, Err(GraphError::InvalidResponse { .. })),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn a_looping_next_link_ends_with_an_error() {
        let res = collect_pages(&base(), "list users", first_page(), |url| async move {
            Ok(Page::<Item> {
                value: vec![],
                next_link: Some(url.to_string()),
            })
        })
        .await;
        assert!(
            matches!(res, Err(GraphError::InvalidResponse { .. })),
            "{res:?}"
        );
    }

    #[test]
    fn a_page_without_value_is_empty() {
        let p: Page<Item> = serde_json::from_str("{}").unwrap();
        assert!(p.value.is_empty() && p.next_link.is_none());
    }
}
