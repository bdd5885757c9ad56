//! Who gets in: no token, a wrong token, a forged login form, the session
//! cookie, and the anti-forgery token on every POST.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::{StatusCode, header};
use support::{Site, TOKEN, get, post_form, set_cookie, set_cookie_header, text};

#[tokio::test]
async fn without_a_session_pages_send_to_login_and_posts_are_refused() {
    let site = Site::start().await;
    for page in [
        "/chat",
        "/dashboard",
        "/dashboard/conversations",
        "/dashboard/usage",
    ] {
        let response = site.send(get(page, None)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{page}: {location}");
    }
    let send = site
        .send(post_form("/chat/send", None, &[("text", "hi")]))
        .await;
    assert_eq!(send.status(), StatusCode::UNAUTHORIZED);
    let forged = site
        .send(get("/chat/events", Some("natter_session=made-up")))
        .await;
    assert_eq!(
        forged.status(),
        StatusCode::SEE_OTHER,
        "an unknown session is no session"
    );
    assert!(site.backend.requests().is_empty());
}

#[tokio::test]
async fn a_wrong_token_or_a_forged_login_form_gets_no_session() {
    let site = Site::start().await;
    let form = site.send(get("/login", None)).await;
    let login_cookie = set_cookie(&form, "natter_login").unwrap();
    let html = text(form).await;
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        csrf, login_cookie,
        "the form and its cookie carry one token"
    );

    let wrong = site
        .send(post_form(
            "/login",
            Some(&format!("natter_login={login_cookie}")),
            &[("token", "guess"), ("csrf", &csrf)],
        ))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "natter_session").is_none());
    assert!(text(wrong).await.contains("That token is not right."));

    // Another site posting the right token without the login cookie.
    let forged = site
        .send(post_form(
            "/login",
            None,
            &[("token", TOKEN), ("csrf", &csrf)],
        ))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged, "natter_session").is_none());
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_strict_and_opens_the_pages() {
    let site = Site::start().await;
    let form = site.send(get("/login", None)).await;
    let login_cookie = set_cookie(&form, "natter_login").unwrap();
    let response = site
        .send(post_form(
            "/login",
            Some(&format!("natter_login={login_cookie}")),
            &[
                ("token", TOKEN),
                ("csrf", &login_cookie),
                ("next", "//evil.example/"),
            ],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/chat",
        "never sent to another site"
    );
    let cookie = set_cookie_header(&response, "natter_session").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");

    let browser = site.login().await;
    for page in [
        "/chat",
        "/dashboard",
        "/dashboard/conversations",
        "/dashboard/setup",
        "/dashboard/usage",
    ] {
        let response = site.send(browser.get(page)).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
    }

    let logout = site.send(browser.post("/logout", &[])).await;
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let after = site.send(browser.get("/chat")).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn every_post_needs_the_anti_forgery_token() {
    let site = Site::start().await;
    let browser = site.login().await;
    let key = "web:chat/x";
    let posts: [(&str, Vec<(&str, &str)>); 6] = [
        ("/chat/send", vec![("text", "hello")]),
        (
            "/chat/approval",
            vec![("approval", "abc"), ("decision", "allow")],
        ),
        ("/dashboard/conversation/reset", vec![("key", key)]),
        (
            "/dashboard/conversation/persona",
            vec![("key", key), ("choice", "")],
        ),
        (
            "/dashboard/conversation/model",
            vec![("key", key), ("choice", "")],
        ),
        ("/logout", vec![]),
    ];
    for (uri, fields) in &posts {
        let bare = site
            .send(post_form(uri, Some(&browser.cookie), fields))
            .await;
        assert_eq!(
            bare.status(),
            StatusCode::FORBIDDEN,
            "{uri} without a token"
        );
        let mut wrong = fields.clone();
        wrong.push(("csrf", "0000"));
        let wrong = site
            .send(post_form(uri, Some(&browser.cookie), &wrong))
            .await;
        assert_eq!(
            wrong.status(),
            StatusCode::FORBIDDEN,
            "{uri} with a wrong token"
        );
    }
    let mut cross_site = browser.fetch("/chat/send", &[("text", "hello")]);
    cross_site
        .headers_mut()
        .insert(header::ORIGIN, "http://evil.example".parse().unwrap());
    assert_eq!(site.send(cross_site).await.status(), StatusCode::FORBIDDEN);
    assert!(
        site.backend.requests().is_empty(),
        "nothing forged got through"
    );

    let sent = site
        .send(browser.fetch("/chat/send", &[("text", "hello")]))
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    site.backend.wait_for_requests(1).await;
    let still_in = site.send(browser.get("/chat")).await;
    assert_eq!(
        still_in.status(),
        StatusCode::OK,
        "logout without a token did nothing"
    );
}
