//! A protocol translator, not a fake: the current `aws-sdk-cloudwatch` speaks Smithy RPC v2 CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`), which moto does not route.
//! This adapter, on its own 127.0.0.1 port, decodes each CBOR request, forwards it to moto as the
//! equivalent JSON 1.0 call (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`), and encodes
//! moto's answer back to CBOR. moto keeps all the state and does all the work.
//!
//! Types JSON cannot tell apart are restored by member name (the CloudWatch model's timestamps
//! and integers; every other number in its outputs is a double).

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ciborium::Value as Cbor;
use serde_json::{Map, Number, Value as Json};

const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// Timestamp members of the CloudWatch outputs the tests read.
const TIMESTAMPS: &[&str] = &[
    "Timestamp",
    "Timestamps",
    "LastModified",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
];
/// Integer members (everything else numeric in the outputs is a double).
const INTEGERS: &[&str] = &["Period", "EvaluationPeriods", "DatapointsToAlarm", "Size"];

pub struct CloudWatchAdapter {
    pub url: String,
    handle: ServerHandle,
}

impl Drop for CloudWatchAdapter {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

struct Upstream {
    moto: String,
    client: reqwest::Client,
}

/// Starts an adapter in front of the moto at `AWS_ENDPOINT_URL`.
pub fn start() -> CloudWatchAdapter {
    let moto = super::moto::endpoint();
    let upstream = web::Data::new(Upstream {
        moto,
        client: reqwest::Client::new(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the adapter");
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(upstream.clone())
            .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
            .route(
                "/service/{service}/operation/{op}",
                web::post().to(translate),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    CloudWatchAdapter {
        url: format!("http://127.0.0.1:{port}"),
        handle,
    }
}

async fn translate(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    upstream: web::Data<Upstream>,
) -> HttpResponse {
    let (service, op) = path.into_inner();
    if service != TARGET_PREFIX {
        return HttpResponse::NotFound().finish();
    }
    let input: Json = if body.is_empty() {
        Json::Object(Map::new())
    } else {
        match ciborium::from_reader::<Cbor, _>(&body[..]) {
            Ok(v) => cbor_to_json(v),
            Err(e) => return HttpResponse::BadRequest().body(format!("bad CBOR: {e}")),
        }
    };
    let mut forward = upstream
        .client
        .post(format!("{}/", upstream.moto))
        .header("X-Amz-Target", format!("{TARGET_PREFIX}.{op}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .body(input.to_string());
    // moto reads the account and region from the (unchecked) signature's credential scope.
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(v) = req.headers().get(name) {
            forward = forward.header(name, v.as_bytes());
        }
    }
    let res = match forward.send().await {
        Ok(res) => res,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let output: Json = if text.trim().is_empty() {
        Json::Object(Map::new())
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| {
            // Not JSON (an HTML error page): surface it as a service error.
            serde_json::json!({ "__type": "InternalFailure", "message": text })
        })
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&json_to_cbor(output, None), &mut bytes).expect("encode CBOR");
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("Content-Type", "application/cbor"))
        .insert_header(("smithy-protocol", "rpc-v2-cbor"))
        .body(bytes)
}

fn cbor_to_json(v: Cbor) -> Json {
    match v {
        Cbor::Null => Json::Null,
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Integer(i) => {
            let i = i128::from(i);
            i64::try_from(i)
                .map(Json::from)
                .unwrap_or_else(|_| Json::from(i as f64))
        }
        Cbor::Float(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
        Cbor::Text(s) => Json::String(s),
        Cbor::Bytes(b) => Json::String(STANDARD.encode(b)),
        // Tag 1: epoch seconds, which is how JSON 1.0 sends timestamps too.
        Cbor::Tag(_, inner) => cbor_to_json(*inner),
        Cbor::Array(items) => Json::Array(items.into_iter().map(cbor_to_json).collect()),
        Cbor::Map(entries) => Json::Object(
            entries
                .into_iter()
                .filter_map(|(k, v)| match k {
                    Cbor::Text(k) => Some((k, cbor_to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

fn epoch_seconds(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|t| t.as_nanosecond() as f64 / 1e9),
        _ => None,
    }
}

/// `member`: the name of the structure member this value sits in (lists pass theirs down).
fn json_to_cbor(v: Json, member: Option<&str>) -> Cbor {
    let is = |names: &[&str]| member.is_some_and(|m| names.contains(&m));
    match v {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(b),
        ref t if is(TIMESTAMPS) && !t.is_array() => match epoch_seconds(t) {
            Some(secs) => Cbor::Tag(1, Box::new(Cbor::Float(secs))),
            None => Cbor::Null,
        },
        Json::Number(n) if is(INTEGERS) => Cbor::Integer(
            n.as_i64()
                .unwrap_or(n.as_f64().unwrap_or(0.0) as i64)
                .into(),
        ),
        Json::Number(n) => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => Cbor::Text(s),
        Json::Array(items) => Cbor::Array(
            items
                .into_iter()
                .map(|item| json_to_cbor(item, member))
                .collect(),
        ),
        Json::Object(map) => Cbor::Map(
            map.into_iter()
                .map(|(k, v)| {
                    let value = json_to_cbor(v, Some(&k));
                    (Cbor::Text(k), value)
                })
                .collect(),
        ),
    }
}
