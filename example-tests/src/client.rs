//! A typed async client for the service, as a real consumer would write one.

use futures_core::Stream;
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;

use crate::model::{ApiError, NewNote, Note, Page, UpdateNote};

/// An HTTP client bound to one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// A request that got no HTTP answer: status 0 and the whole error chain.
fn transport(e: reqwest::Error) -> ApiError {
    let mut error = format!("transport error: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        error.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    ApiError { status: 0, error }
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ApiError> {
    let status = resp.status();
    if status.is_success() {
        return resp.json::<T>().await.map_err(transport);
    }
    let text = resp.text().await.map_err(transport)?;
    Err(serde_json::from_str::<ApiError>(&text).unwrap_or(ApiError {
        status: status.as_u16(),
        error: text,
    }))
}

async fn send(req: RequestBuilder) -> Result<reqwest::Response, ApiError> {
    req.send().await.map_err(transport)
}

/// Sends `req` and decodes a JSON answer, or the service's error.
async fn call<T: DeserializeOwned>(req: RequestBuilder) -> Result<T, ApiError> {
    decode(send(req).await?).await
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:41234`).
    pub fn new(base: impl Into<String>) -> Self {
        Client {
            http: reqwest::Client::new(),
            base: base.into(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn health(&self) -> Result<String, ApiError> {
        let resp = send(self.http.get(self.url("/health"))).await?;
        resp.text().await.map_err(transport)
    }

    pub async fn create(&self, note: &NewNote) -> Result<Note, ApiError> {
        call(self.http.post(self.url("/notes")).json(note)).await
    }

    /// Posts a raw body, for testing how the service rejects malformed input.
    pub async fn create_raw(
        &self,
        content_type: &str,
        body: &'static str,
    ) -> Result<Note, ApiError> {
        let req = self
            .http
            .post(self.url("/notes"))
            .header("content-type", content_type)
            .body(body);
        call(req).await
    }

    pub async fn get(&self, id: i64) -> Result<Note, ApiError> {
        call(self.http.get(self.url(&format!("/notes/{id}")))).await
    }

    /// GET on an arbitrary path, for testing invalid ids and parameters.
    pub async fn get_path<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        call(self.http.get(self.url(path))).await
    }

    pub async fn page(&self, limit: u32, after: Option<i64>) -> Result<Page, ApiError> {
        let mut req = self.http.get(self.url("/notes")).query(&[("limit", limit)]);
        if let Some(after) = after {
            req = req.query(&[("after", after)]);
        }
        call(req).await
    }

    /// Every note, fetched page by page as the stream is consumed.
    pub fn all(&self, page_size: u32) -> impl Stream<Item = Result<Note, ApiError>> + 'static {
        let client = self.clone();
        let state = (client, Some(None::<i64>), Vec::<Note>::new().into_iter());
        futures_lite::stream::unfold(
            state,
            move |(client, mut cursor, mut buffered)| async move {
                loop {
                    if let Some(note) = buffered.next() {
                        return Some((Ok(note), (client, cursor, buffered)));
                    }
                    let after = cursor?; // None: the last page was served
                    match client.page(page_size, after).await {
                        Ok(page) => {
                            cursor = page.next.map(Some);
                            buffered = page.items.into_iter();
                        }
                        Err(e) => return Some((Err(e), (client, None, buffered))),
                    }
                }
            },
        )
    }

    pub async fn update(&self, id: i64, update: &UpdateNote) -> Result<Note, ApiError> {
        call(
            self.http
                .put(self.url(&format!("/notes/{id}")))
                .json(update),
        )
        .await
    }

    pub async fn delete(&self, id: i64) -> Result<(), ApiError> {
        let resp = send(self.http.delete(self.url(&format!("/notes/{id}")))).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        decode::<()>(resp).await
    }

    /// `GET /slow?ms=N`: returns the delay the server reports.
    pub async fn slow(&self, ms: u64) -> Result<u64, ApiError> {
        let v: serde_json::Value =
            call(self.http.get(self.url("/slow")).query(&[("ms", ms)])).await?;
        v["slept_ms"].as_u64().ok_or_else(|| ApiError {
            status: 0,
            error: format!("unexpected body {v}"),
        })
    }
}
