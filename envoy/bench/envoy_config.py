#!/usr/bin/env python3
"""Prints the Envoy configuration (JSON, which Envoy reads as YAML) for one `make bench` variant.

    envoy_config.py <variant> <listener-port> <admin-port> <tokens-dir> <verifier.wasm> <noop.wasm>

Every variant has the same shape: one listener, an HTTP connection manager, the auth filter(s) under
test, then the router answering 200 "ok" itself (a direct response, no upstream). Only the auth
filters differ:

  none          no auth filter
  noop          a proxy-wasm filter that only returns Continue (envoy/noop-filter)
  ours          the verifier; one provider with the bench JWKS inline, ES256 and EdDSA, any valid token
  ours-scope    the verifier; the same provider, the rule also requires scope instruments:read
  ours-delegation  the verifier; the provider of ours, also accepting delegated tokens (max_depth 4)
  native        Envoy's jwt_authn; the same JWKS inline, no cache
  native-cache  jwt_authn with jwt_cache_config
  native-rbac   the same work as ours-scope: jwt_authn (cache, payload_in_metadata, and the four
                identity headers ours writes, by claim_to_headers) then the RBAC filter requiring the
                scope instruments:read from the payload (a space-separated string)

Every variant also has a route for `/bench/echo` that answers with the identity headers the auth
filter wrote (`x-bench-identity`), so that bench.sh can show both sides forward the same identity
before measuring; the measured requests go to `/api/v1/instruments`, which echoes nothing.

Both filters get the same keys (`<tokens-dir>/jwks.json`, written by bench-tokens), the same issuer and
audience, and neither forwards the Authorization header upstream (jwt_authn's `forward` and ours both
default to false).
"""

import json
import sys

AUDIENCE = "quantjourney"
SCOPE = "instruments:read"
PAYLOAD_KEY = "jwt_payload"
PROVIDER = "bench"
# The identity headers ours writes (verifier_core::IDENTITY_HEADERS) and the claims they carry.
IDENTITY_HEADERS = [
    ("x-auth-subject", "sub"),
    ("x-auth-client-id", "client_id"),
    ("x-auth-scope", "scope"),
    ("x-auth-issuer", "iss"),
]
ECHO_PATH = "/bench/echo"


def wasm_filter(name, filename, configuration):
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "fail_open": False,
                "vm_config": {
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": filename}},
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": configuration,
                },
            },
        },
    }


def ours(issuer, jwks, verifier_wasm, scopes, delegation=False):
    requires = {"provider": PROVIDER}
    if scopes:
        requires["scopes"] = scopes
    provider = {
        "issuer": issuer,
        "audiences": [AUDIENCE],
        "algorithms": ["ES256", "EdDSA"],
        "local_jwks": jwks,
    }
    if delegation:
        provider["delegation"] = {"max_depth": 4}
    config = {
        "providers": {PROVIDER: provider},
        "rules": [{"match": {"prefix": "/"}, "requires": requires}],
    }
    return [wasm_filter("verifier", verifier_wasm, json.dumps(config))]


def native(issuer, jwks, cache, payload_in_metadata, identity_headers=False):
    provider = {
        "issuer": issuer,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": jwks},
    }
    if cache:
        # The verifier's own default token cache holds 10,000 entries; give jwt_authn as many.
        provider["jwt_cache_config"] = {"jwt_cache_size": 10000}
    if payload_in_metadata:
        provider["payload_in_metadata"] = PAYLOAD_KEY
    if identity_headers:
        provider["claim_to_headers"] = [
            {"header_name": header, "claim_name": claim} for header, claim in IDENTITY_HEADERS
        ]
    return [
        {
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {PROVIDER: provider},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": PROVIDER}}],
            },
        }
    ]


def rbac_scope():
    # RE2 full match: the scope list contains `instruments:read` as a whole word.
    word = "(.* )?" + SCOPE + "( .*)?"
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {
                "action": "ALLOW",
                "policies": {
                    "scope-" + SCOPE: {
                        "permissions": [{"any": True}],
                        "principals": [
                            {
                                "sourced_metadata": {
                                    "metadata_matcher": {
                                        "filter": "envoy.filters.http.jwt_authn",
                                        "path": [{"key": PAYLOAD_KEY}, {"key": "scope"}],
                                        "value": {"string_match": {"safe_regex": {"regex": word}}},
                                    }
                                }
                            }
                        ],
                    }
                },
            },
        },
    }


def auth_filters(variant, issuer, jwks, verifier_wasm, noop_wasm):
    if variant == "none":
        return []
    if variant == "noop":
        return [wasm_filter("noop", noop_wasm, "")]
    if variant == "ours":
        return ours(issuer, jwks, verifier_wasm, [])
    if variant == "ours-scope":
        return ours(issuer, jwks, verifier_wasm, [SCOPE])
    if variant == "ours-delegation":
        return ours(issuer, jwks, verifier_wasm, [], delegation=True)
    if variant == "native":
        return native(issuer, jwks, cache=False, payload_in_metadata=False)
    if variant == "native-cache":
        return native(issuer, jwks, cache=True, payload_in_metadata=False)
    if variant == "native-rbac":
        return native(issuer, jwks, cache=True, payload_in_metadata=True, identity_headers=True) + [
            rbac_scope()
        ]
    raise SystemExit(f"envoy_config.py: unknown variant {variant!r}")


def main():
    if len(sys.argv) != 7:
        raise SystemExit(__doc__)
    variant, port, admin, tokens_dir, verifier_wasm, noop_wasm = sys.argv[1:]
    with open(f"{tokens_dir}/jwks.json") as f:
        jwks = f.read().strip()
    with open(f"{tokens_dir}/issuer.txt") as f:
        issuer = f.read().strip()
    router = {
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    }
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "bench",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"prefix": ECHO_PATH},
                            "direct_response": {"status": 200, "body": {"inline_string": "ok"}},
                            "response_headers_to_add": [
                                {
                                    "header": {
                                        "key": "x-bench-identity",
                                        "value": " | ".join(f"%REQ({h})%" for h, _ in IDENTITY_HEADERS),
                                    },
                                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                                }
                            ],
                        },
                        {
                            "match": {"prefix": "/"},
                            "direct_response": {"status": 200, "body": {"inline_string": "ok"}},
                        }
                    ],
                }
            ]
        },
        "http_filters": auth_filters(variant, issuer, jwks, verifier_wasm, noop_wasm) + [router],
    }
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": int(admin)}}},
        "static_resources": {
            "listeners": [
                {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": int(port)}},
                    "filter_chains": [
                        {
                            "filters": [
                                {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                            ]
                        }
                    ],
                }
            ]
        },
    }
    json.dump(config, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
