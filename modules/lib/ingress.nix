# The ingress renderer: `hearth.ingress` (hosts/<host>/hearth.nix) -> the
# JSON config Caddy runs, Traefik's dynamic configuration, and the lego
# arguments NixOS's acme module gives lego. builtins only.
#
# Every string that reaches a config file is checked against the same
# character classes `generator/src/area/ingress.rs` validates with (a
# property test proves the two agree); what passes cannot open a block,
# close a quote, start a placeholder or a comment, or end a line.
#
# caddyConfig { cfg; certDir; } -> Caddy's JSON config (an attrset);
#   certDir: certificate name -> its directory holding cert.pem and key.pem
#   (NixOS: /var/lib/acme/<name>). caddyJson: the same as text.
# caddyBasicEnv { cfg; secretPath; out; } -> a bash script writing `out`,
#   the environment file of the basic-auth hashes caddyConfig refers to;
#   secretPath: agenix name -> path of the decrypted file (NixOS:
#   config.age.secrets.<name>.path).
# traefik { cfg; secretPath; certDir; } -> the dynamic configuration attrset.
# legoArgs cfg cert -> lego's argument list for `lego ... run` of one cert.
# dnsRecords cfg -> the records each name space needs (text).
# unbound res -> `services.unbound.settings` of the gateway's resolver
#   (res = hearth.ingress.resolver): every site's name -> the ingress address.
# unboundConf settings -> the unbound.conf text nixpkgs' unbound module writes
#   from those settings (the lab runs Debian's unbound on it; preview).
# resolverInput res -> the allowlist's input rule (hearth.allowlist.input)
#   that lets VPN clients reach the resolver on 53/tcp+udp.
let
  inherit (builtins)
    concatLists
    concatMap
    concatStringsSep
    elem
    filter
    isList
    isString
    listToAttrs
    map
    match
    stringLength
    ;
  h = import ./util/ipv4.nix;
  show = h.show;

  label = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
  hostnameRe = "${label}(\\.${label})*";
  # Characters allowed in URLs and URL paths: no whitespace, quote,
  # backslash, brace (Caddy placeholders) or backtick (Traefik rules).
  urlChars = "[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]";
  pathRe = "/[A-Za-z0-9._/+-]*";

  checkStr =
    what: re: msg: v:
    if isString v && match re v != null then v else throw "hearth: ${what}: ${show v} ${msg}";
  checkHostname =
    what: v:
    if isString v && stringLength v <= 253 && match hostnameRe v != null then
      v
    else
      throw "hearth: ${what}: ${show v} is not a DNS name (lowercase labels of a-z 0-9 -, separated by dots)";
  checkUpstream =
    what: v:
    checkStr what "(http|https)://${hostnameRe}:[1-9][0-9]{0,4}" "is not an upstream like http://10.69.13.11:3000" v;
  checkUrl = what: v: checkStr what "https?://${urlChars}+" "is not an http(s) URL of the characters A-Z a-z 0-9 ._~:/?#@!$&'()*+,;=%-" v;
  checkUri = what: v: checkStr what "/${urlChars}*" "is not a path starting with / of the characters A-Z a-z 0-9 ._~:/?#@!$&'()*+,;=%-" v;
  checkPath = what: v: checkStr what pathRe "is not an absolute path of the characters A-Z a-z 0-9 ._/+-" v;
  checkHeader = what: v: checkStr what "[A-Za-z0-9-]+" "is not an HTTP header name" v;
  checkEnum =
    what: allowed: v:
    if elem v allowed then v else throw "hearth: ${what}: ${show v} must be one of ${concatStringsSep ", " allowed}";
  checkCert =
    cfg: what: name:
    if filter (c: c.name == name) (h.checkList "hearth.ingress.certificates" cfg.certificates) != [ ] then
      name
    else
      throw "hearth: ${what}: ${show name} names no entry of hearth.ingress.certificates";

  nameOf =
    i: s: checkStr "hearth.ingress.sites.${toString i}.name" "[a-z0-9][a-z0-9_-]*" "is not a name of a-z 0-9 _ -" s.name;
  checkWildcard = checkStr "hearth.ingress.certificates.domain" "\\*\\.${hostnameRe}" "is not a wildcard name like *.home.example.net";

  # A site's allow list: addresses and CIDRs as written (each checked);
  # [ ] means nobody.
  allowOf =
    i: s:
    let
      what = "hearth.ingress.sites.${toString i}.allow";
    in
    map (a: builtins.seq (h.parseCidr what a) a) (h.checkList what s.allow);

  sitesOf = cfg: h.checkList "hearth.ingress.sites" cfg.sites;
  indexed = l: builtins.genList (i: { inherit i; s = builtins.elemAt l i; }) (builtins.length l);

  authOf =
    i: s:
    let
      what = "hearth.ingress.sites.${toString i}.auth";
      a = s.auth;
      type = checkEnum "${what}.type" [ "none" "basic" "forward" ] a.type;
    in
    {
      inherit type;
      basicSecret =
        if type == "basic" then
          checkStr "${what}.basicSecret" "[A-Za-z0-9][A-Za-z0-9._-]*" "is not an agenix secret name" a.basicSecret
        else
          null;
      # The users whose `USER HASH` lines the secret holds (Caddy's accounts).
      users =
        if type != "basic" then
          [ ]
        else if h.checkList "${what}.users" (a.users or [ ]) == [ ] then
          throw "hearth: ${what}.users: basic auth needs at least one user"
        else
          map (checkStr "${what}.users" "[A-Za-z0-9._-]+" "is not a user name of A-Z a-z 0-9 . _ -") a.users;
    };

  forwardOf =
    cfg:
    let
      f = cfg.forwardAuth;
    in
    if f == null then
      null
    else
      {
        upstream = checkUpstream "hearth.ingress.forwardAuth.upstream" f.upstream;
        uri = checkUri "hearth.ingress.forwardAuth.uri" f.uri;
        copyHeaders = map (checkHeader "hearth.ingress.forwardAuth.copyHeaders") (
          h.checkList "hearth.ingress.forwardAuth.copyHeaders" f.copyHeaders
        );
      };

  tlsOf =
    cfg:
    {
      mode = checkEnum "hearth.ingress.tls.mode" [ "acme" "internal" ] cfg.tls.mode;
      minVersion = checkEnum "hearth.ingress.tls.minVersion" [ "1.2" "1.3" ] cfg.tls.minVersion;
      hsts = h.checkInt "hearth.ingress.tls.hsts" 0 63072000 cfg.tls.hsts;
    };

  # ---- Caddy (its native JSON) ---------------------------------------------
  #
  # Caddy runs JSON, what `caddy adapt` makes of a Caddyfile, because the
  # routes of a server are compiled once when the config loads, while a
  # Caddyfile puts each site block's directives into a subroute that Caddy
  # 2.6 compiles again on every request (Subroute.ServeHTTP, tag v2.6.2;
  # the handlers used here read at v2.6.2 and at the stored main of 2026:
  # map compares its input exactly, vars expands placeholders in values,
  # http_basic replaces placeholders in accounts).
  # One server, its routes in this order:
  #   1. dispatch: a host matcher of the sites' names (over 100 names,
  #      Caddy binary-searches it; 202 or more are split in buckets of over
  #      100, so each `map` walks a bucket only), the HSTS header, then
  #      `map` host -> the site's policy class, kept by `vars` as
  #      `hearth_class`;
  #   2. per policy class (sites with the same allow list as a set, auth and
  #      upstream scheme; docs/performance.md, "Ingress"), one route matched
  #      by `hearth_class`: 403 unless the client is in the allow list (its
  #      own matcher, so other classes' allow lists are never looked at);
  #      then auth; then reverse_proxy to the
  #      site's upstream (`map` host -> host:port when the class has more
  #      than one site: Caddy 2.6.2 takes a placeholder upstream only
  #      without a scheme, so a class of https upstreams gets
  #      `transport http { tls }`);
  #   3. per name space, `*.<name space>`: abort (the connection closes for
  #      a name no site serves).
  # Host matchers ignore case, `map` compares exactly: a name sent with
  # capitals finds no class and falls through to the abort route, never
  # another site's backend.
  # Basic auth: an account's hash is `{env.HEARTH_BASIC_<k>}` (Caddy replaces
  # placeholders in http_basic accounts when it loads them, caddyauth
  # basicauth.go Provision, v2.6.2 and later), from the environment file
  # `caddyBasicEnv` writes out of the agenix secrets: no hash in the store.

  # "*.home.example.net" -> "home.example.net"
  baseOf = d: builtins.substring 2 (stringLength d) d;

  # One site, checked; `key` is its policy class.
  caddySiteOf =
    base:
    { i, s }:
    let
      what = "hearth.ingress.sites.${toString i}";
      host = checkHostname "${what}.host" s.host;
      under =
        if match "[a-z0-9-]+\\.${builtins.replaceStrings [ "." ] [ "\\." ] base}" host != null then
          host
        else
          throw "hearth: ${what}.host: ${show host} is not one label under ${base} (the certificate's wildcard)";
      upstream = checkUpstream "${what}.upstream" s.upstream;
      parts = match "(https?)://(.*)" upstream;
      scheme = builtins.elemAt parts 0;
      allow = allowOf i s;
      auth = authOf i s;
    in
    # The name is not in Caddy's config, but a bad one fails here as in Traefik's.
    builtins.seq (nameOf i s) {
      inherit i what allow auth scheme;
      host = under;
      dial = builtins.elemAt parts 1;
      key = builtins.toJSON {
        allow = builtins.sort builtins.lessThan allow;
        inherit auth scheme;
      };
    };

  # The sites grouped by policy class: classes in the order their first site
  # is listed, sites in list order within a class.
  classesOf =
    vs:
    let
      groups = builtins.groupBy (v: v.key) vs;
    in
    map (v: groups.${v.key}) (filter (v: (builtins.head groups.${v.key}).i == v.i) vs);

  # Every (secret, user) of basic auth once, in site order, with the
  # environment variable holding its hash.
  basicAccountsOf =
    vs:
    let
      all = concatMap (v: map (user: { inherit user; secret = v.auth.basicSecret; }) v.auth.users) (
        filter (v: v.auth.type == "basic") vs
      );
      firsts = builtins.genList (k: builtins.elemAt all k) (builtins.length all);
      uniq = builtins.foldl' (acc: a: if elem a acc then acc else acc ++ [ a ]) [ ] firsts;
    in
    builtins.genList (k: (builtins.elemAt uniq k) // { var = "HEARTH_BASIC_${toString k}"; }) (builtins.length uniq);

  # The checked sites and their name spaces (the certificates that have sites).
  caddySites =
    cfg:
    let
      certs = map (c: {
        inherit (c) name;
        base = checkHostname "hearth.ingress.certificates.domain" (baseOf (checkWildcard c.domain));
      }) (h.checkList "hearth.ingress.certificates" cfg.certificates);
      baseOfCert = n: (builtins.head (filter (c: c.name == n) certs)).base;
      sites = map (
        x: caddySiteOf (baseOfCert (checkCert cfg "hearth.ingress.sites.${toString x.i}.cert" x.s.cert)) x
        // { cert = x.s.cert; }
      ) (indexed (sitesOf cfg));
      dups = filter (g: builtins.length g > 1) (builtins.attrValues (builtins.groupBy (v: v.host) sites));
    in
    if dups != [ ] then
      let
        d = builtins.head dups;
      in
      throw "hearth: hearth.ingress.sites: ${(builtins.elemAt d 0).what} and ${(builtins.elemAt d 1).what} both serve ${show (builtins.head d).host}"
    else
      {
        inherit sites;
        spaces = filter (c: builtins.any (v: v.cert == c.name) sites) certs;
      };

  caddyConfig =
    { cfg, certDir }:
    let
      tls = tlsOf cfg;
      fwd = forwardOf cfg;
      httpPort = h.checkInt "hearth.ingress.httpPort" 1 65535 cfg.httpPort;
      httpsPort = h.checkInt "hearth.ingress.httpsPort" 1 65535 cfg.httpsPort;
      _backend = checkEnum "hearth.ingress.backend" [ "caddy" "traefik" ] cfg.backend;
      inherit (caddySites cfg) sites spaces;
      classes = classesOf sites;
      ids = listToAttrs (
        builtins.genList (k: {
          name = (builtins.head (builtins.elemAt classes k)).key;
          value = "c${toString k}";
        }) (builtins.length classes)
      );
      accounts = basicAccountsOf sites;
      varOf =
        secret: user: (builtins.head (filter (a: a.secret == secret && a.user == user) accounts)).var;
      tag = c: "hearth-${c.name}";
      dirOf = c: checkPath "certDir ${show c.name}" (certDir c.name);
      acme = tls.mode == "acme";
      # "http://10.69.13.30:9091" -> the reverse_proxy fields that reach it.
      proxyTo =
        upstream:
        let
          parts = match "(https?)://(.*)" upstream;
        in
        {
          upstreams = [ { dial = builtins.elemAt parts 1; } ];
        }
        // (if builtins.elemAt parts 0 == "https" then { transport = tlsTransport; } else { });
      tlsTransport = {
        protocol = "http";
        tls = { };
      };

      authHandlers =
        v:
        if v.auth.type == "basic" then
          [
            {
              handler = "authentication";
              providers.http_basic = {
                accounts = map (user: {
                  username = user;
                  password = "{env.${varOf v.auth.basicSecret user}}";
                }) v.auth.users;
                hash.algorithm = "bcrypt";
                hash_cache = { };
              };
            }
          ]
        else if v.auth.type == "forward" then
          if fwd == null then
            throw "hearth: ${v.what}.auth.type: \"forward\" needs hearth.ingress.forwardAuth"
          else
            # A client's own copies of the copied headers are dropped first:
            # Caddy sets them only from a 2xx answer that has them, and
            # from 2.10.0 until the fix of GHSA-7r4p-vjf4-gxv4 (caddy PR
            # #7545, 2026) kept the client's when the auth service sent
            # none (e.g. Authelia's bypass policy). Traefik's forwardAuth
            # deletes them itself (middlewares/auth/forward.go). The
            # reverse_proxy is what Caddy's `forward_auth` directive
            # expands to (caddy adapt, 2.6.2).
            (if fwd.copyHeaders == [ ] then [ ] else [ { handler = "headers"; request.delete = fwd.copyHeaders; } ])
            ++ [
              (
                {
                  handler = "reverse_proxy";
                  rewrite = {
                    method = "GET";
                    uri = fwd.uri;
                  };
                  headers.request.set = {
                    X-Forwarded-Method = [ "{http.request.method}" ];
                    X-Forwarded-Uri = [ "{http.request.uri}" ];
                  };
                  handle_response = [
                    {
                      match.status_code = [ 2 ];
                      routes = [
                        {
                          handle = [
                            {
                              handler = "headers";
                              request =
                                if fwd.copyHeaders == [ ] then
                                  { }
                                else
                                  {
                                    set = listToAttrs (
                                      map (hd: {
                                        name = hd;
                                        value = [ "{http.reverse_proxy.header.${hd}}" ];
                                      }) fwd.copyHeaders
                                    );
                                  };
                            }
                          ];
                        }
                      ];
                    }
                  ];
                }
                // proxyTo fwd.upstream
              )
            ]
        else
          [ ];

      proxy =
        vs:
        let
          v = builtins.head vs;
          transport = if v.scheme == "https" then { transport = tlsTransport; } else { };
        in
        if builtins.length vs == 1 then
          [ ({ handler = "reverse_proxy"; upstreams = [ { dial = v.dial; } ]; } // transport) ]
        else
          [
            {
              handler = "map";
              source = "{http.request.host}";
              destinations = [ "{hearth.upstream}" ];
              mappings = map (x: {
                input = x.host;
                outputs = [ x.dial ];
              }) vs;
            }
            ({ handler = "reverse_proxy"; upstreams = [ { dial = "{hearth.upstream}"; } ]; } // transport)
          ];

      # A class is one route: when the allow list is empty, 403; else a
      # subroute of one route that answers 403 unless the client is in the
      # allow list (Caddy compiles a subroute per request: one route is
      # cheap), then auth, then the proxy.
      classRoute =
        vs:
        let
          v = builtins.head vs;
        in
        {
          match = [ { vars.hearth_class = [ ids.${v.key} ]; } ];
          handle =
            if v.allow == [ ] then
              [ forbidden ]
            else
              [
                {
                  handler = "subroute";
                  routes = [
                    {
                      match = [ { not = [ { remote_ip.ranges = v.allow; } ]; } ];
                      handle = [ forbidden ];
                    }
                  ];
                }
              ]
              ++ authHandlers v
              ++ proxy vs;
          terminal = true;
        };
      forbidden = {
        handler = "static_response";
        status_code = 403;
      };

      # Dispatch routes: the sites in k buckets of over 100 names each when
      # there are that many (so each host matcher is binary-searched, and
      # each map walks a bucket, not every name); else one.
      n = builtins.length sites;
      k = if n / 101 > 1 then n / 101 else 1;
      bucket = b: builtins.genList (x: builtins.elemAt sites (b * n / k + x)) ((b + 1) * n / k - b * n / k);
      dispatch = vs: {
        match = [ { host = map (v: v.host) vs; } ];
        handle =
          (
            if tls.hsts > 0 then
              [
                {
                  handler = "headers";
                  response.set.Strict-Transport-Security = [ "max-age=${toString tls.hsts}" ];
                }
              ]
            else
              [ ]
          )
          ++ [
            {
              handler = "map";
              source = "{http.request.host}";
              destinations = [ "{hearth.class}" ];
              mappings = map (v: {
                input = v.host;
                outputs = [ ids.${v.key} ];
              }) vs;
            }
            {
              handler = "vars";
              hearth_class = "{hearth.class}";
            }
          ];
      };

      closing = c: {
        match = [ { host = [ "*.${c.base}" ]; } ];
        handle = [
          {
            handler = "static_response";
            abort = true;
          }
        ];
        terminal = true;
      };

      server = {
        listen = [ ":${toString httpsPort}" ];
        routes = builtins.genList (b: dispatch (bucket b)) k ++ map classRoute classes ++ map closing spaces;
        tls_connection_policies =
          map (
            c:
            {
              match.sni = [ "*.${c.base}" ];
              protocol_min = "tls${tls.minVersion}";
              protocol_max = "tls1.3";
            }
            // (if acme then { certificate_selection.any_tag = [ (tag c) ]; } else { })
          ) spaces
          # A client without a matching SNI: Caddy's defaults (as the Caddyfile adapter adds).
          ++ [ { } ];
      };
    in
    builtins.deepSeq [ _backend ] {
      apps = {
        http = {
          http_port = httpPort;
          https_port = httpsPort;
        }
        // (if sites == [ ] then { } else { servers.hearth = server; });
        pki.certificate_authorities.local.install_trust = false;
      }
      // (
        if sites == [ ] then
          { }
        else if acme then
          {
            tls.certificates.load_files = map (c: {
              certificate = "${dirOf c}/cert.pem";
              key = "${dirOf c}/key.pem";
              tags = [ (tag c) ];
            }) spaces;
          }
        else
          {
            tls.automation.policies = [
              {
                subjects = map (v: v.host) sites ++ map (c: "*.${c.base}") spaces;
                issuers = [ { module = "internal"; } ];
              }
            ];
          }
      );
    };

  # JSON text, two spaces an indent, keys sorted, a list of plain values on
  # one line: what `hearth preview HOST caddy` shows and Caddy reads.
  prettyJson =
    ind: v:
    let
      inner = ind + "  ";
      plain = x: !(builtins.isAttrs x || isList x);
    in
    if builtins.isAttrs v then
      if v == { } then
        "{}"
      else
        "{\n"
        + concatStringsSep ",\n" (
          map (k: "${inner}${builtins.toJSON k}: ${prettyJson inner v.${k}}") (builtins.attrNames v)
        )
        + "\n${ind}}"
    else if isList v then
      if v == [ ] then
        "[]"
      else if builtins.all plain v then
        "[ ${concatStringsSep ", " (map builtins.toJSON v)} ]"
      else
        "[\n" + concatStringsSep ",\n" (map (x: "${inner}${prettyJson inner x}") v) + "\n${ind}]"
    else
      builtins.toJSON v;

  caddyJson = args: prettyJson "" (caddyConfig args) + "\n";

  # A bash script (builtins and mv only) writing `out`, the environment
  # file of Caddy's basic-auth hashes: `HEARTH_BASIC_<k>='<bcrypt hash>'`
  # per account, each read from its agenix secret's `USER HASH` line. It
  # fails, writing nothing, when a user has no line or the hash is not
  # bcrypt's (so nothing else can reach the file). Run as root before Caddy
  # starts (NixOS: ExecStartPre "+"); the lab runs the same text.
  caddyBasicEnv =
    {
      cfg,
      secretPath,
      out,
    }:
    let
      accounts = basicAccountsOf (caddySites cfg).sites;
      file = checkPath "out" out;
      one =
        a:
        let
          src = checkPath "secretPath ${show a.secret}" (secretPath a.secret);
        in
        ''
          hash=
          while read -r user h rest; do
            if [ "$user" = '${a.user}' ]; then hash=$h; break; fi
          done < '${src}'
          case "$hash" in
            '$2'[aby]'$'[0-9][0-9]'$'*) ;;
            *) echo "hearth: ${src}: no line '${a.user} HASH' with a bcrypt hash (caddy hash-password)" >&2; exit 1 ;;
          esac
          case "$hash" in
            *[!./A-Za-z0-9\$]*) echo "hearth: ${src}: the hash of '${a.user}' has a character bcrypt does not use" >&2; exit 1 ;;
          esac
          printf "%s='%s'\n" ${a.var} "$hash" >&3
        '';
    in
    ''
      # Generated by hearth (modules/lib/ingress.nix): Caddy's basic-auth hashes.
      set -eu
      umask 077
      trap "rm -f '${file}.tmp'" EXIT
      exec 3> '${file}.tmp'
    ''
    + concatStringsSep "" (map one accounts)
    + ''
      exec 3>&-
      mv -f '${file}.tmp' '${file}'
      trap - EXIT
    '';

  # ---- Traefik (dynamic configuration) -------------------------------------

  traefik =
    { cfg, secretPath, certDir }:
    let
      tls = tlsOf cfg;
      fwd = forwardOf cfg;
      sites = indexed (sitesOf cfg);
      router =
        { i, s }:
        let
          what = "hearth.ingress.sites.${toString i}";
          n = nameOf i s;
          auth = authOf i s;
          allow = allowOf i s;
        in
        {
          name = "hearth-${n}";
          value = {
            rule = "Host(`${checkHostname "${what}.host" s.host}`)";
            entryPoints = [ "websecure" ];
            service = "hearth-${n}";
            tls = { };
            middlewares =
              [
                "hearth-hsts"
                "hearth-allow-${n}"
              ]
              ++ (if auth.type == "basic" then [ "hearth-basic-${n}" ] else [ ])
              ++ (
                if auth.type == "forward" then
                  if fwd == null then
                    throw "hearth: ${what}.auth.type: \"forward\" needs hearth.ingress.forwardAuth"
                  else
                    [ "hearth-forward-auth" ]
                else
                  [ ]
              );
          };
        };
      service =
        { i, s }:
        {
          name = "hearth-${nameOf i s}";
          value.loadBalancer.servers = [ { url = checkUpstream "hearth.ingress.sites.${toString i}.upstream" s.upstream; } ];
        };
      middlewares =
        concatMap (
          { i, s }:
          let
            n = nameOf i s;
            auth = authOf i s;
            allow = allowOf i s;
          in
          [
            {
              name = "hearth-allow-${n}";
              # An empty sourceRange would let everyone in: nobody allowed
              # becomes the one address no client has.
              value.ipAllowList.sourceRange = if allow == [ ] then [ "255.255.255.255/32" ] else allow;
            }
          ]
          ++ (
            if auth.type == "basic" then
              [
                {
                  name = "hearth-basic-${n}";
                  value.basicAuth.usersFile = checkPath "secretPath ${show auth.basicSecret}" (secretPath auth.basicSecret);
                }
              ]
            else
              [ ]
          )
        ) sites
        ++ [
          {
            name = "hearth-hsts";
            value.headers = {
              stsSeconds = tls.hsts;
              stsIncludeSubdomains = false;
            };
          }
        ]
        ++ (
          if fwd == null then
            [ ]
          else
            [
              {
                name = "hearth-forward-auth";
                value.forwardAuth = {
                  address = fwd.upstream + fwd.uri;
                  authResponseHeaders = fwd.copyHeaders;
                };
              }
            ]
        );
      certs = map (
        c:
        let
          dir = checkPath "certDir ${show c.name}" (certDir c.name);
        in
        {
          certFile = "${dir}/cert.pem";
          keyFile = "${dir}/key.pem";
        }
      ) (h.checkList "hearth.ingress.certificates" cfg.certificates);
    in
    {
      http = {
        routers = listToAttrs (map router sites);
        services = listToAttrs (map service sites);
        middlewares = listToAttrs middlewares;
      };
      tls = {
        certificates = if tls.mode == "acme" then certs else [ ];
        options.default = {
          minVersion = if tls.minVersion == "1.3" then "VersionTLS13" else "VersionTLS12";
          sniStrict = true;
        };
      };
    };

  # ---- ACME (lego) -----------------------------------------------------------

  # The argument list nixpkgs' acme module (security/acme/default.nix,
  # 2025 rework: commonOpts ++ [ "run" ]) builds for one certificate.
  legoArgs =
    cfg: name:
    let
      c = builtins.head (
        filter (c: c.name == name) (h.checkList "hearth.ingress.certificates" cfg.certificates)
        ++ [ (throw "hearth: legoArgs: ${show name} names no entry of hearth.ingress.certificates") ]
      );
      a = cfg.acme;
      what = "hearth.ingress.acme";
    in
    [
      "--accept-tos"
      "--path"
      "."
      "--email"
      (checkStr "${what}.email" "[A-Za-z0-9._%+-]+@${hostnameRe}" "is not an email address" a.email)
      "--dns"
      (checkStr "${what}.dnsProvider" "[a-z0-9][a-z0-9._-]*" "is not a lego DNS provider code" a.dnsProvider)
    ]
    ++ (if a.propagationCheck then [ ] else [ "--dns.propagation-disable-ans" ])
    ++ [
      "--server"
      (checkUrl "${what}.server" a.server)
      "--key-type"
      "ec256"
      "-d"
      (checkStr "hearth.ingress.certificates.domain" "\\*\\.${hostnameRe}" "is not a wildcard name like *.home.example.net" c.domain)
    ]
    ++ concatMap (d: [
      "-d"
      (checkHostname "hearth.ingress.certificates.extraDomains" d)
    ]) (h.checkList "hearth.ingress.certificates.extraDomains" c.extraDomains)
    ++ [ "run" ];

  # ---- DNS -------------------------------------------------------------------

  dnsRecords =
    cfg:
    let
      addr = h.fmtAddr (h.parseCidr "hearth.ingress.address" cfg.address).s;
    in
    concatStringsSep "\n" (
      map (
        c:
        "${checkStr "hearth.ingress.certificates.domain" "\\*\\.${hostnameRe}" "is not a wildcard name like *.home.example.net" c.domain}. 300 IN A ${addr}"
      ) (h.checkList "hearth.ingress.certificates" cfg.certificates)
    )
    + "\n";
  # ---- Resolver (unbound on the gateway) -------------------------------------
  #
  # res = hearth.ingress.resolver = { address; port; interface; allow; zones;
  # records = [ { name; address; } ]; forward; }. Each site's name is a
  # `local-data` A record of its name space's `local-zone`. Without `forward`
  # the resolver answers those names only: the name spaces are `static`
  # (other names under them: NXDOMAIN) and every other name is refused (not
  # an open resolver). With `forward` (the LAN resolvers) the name spaces are
  # `transparent` (a host record the LAN resolvers hold is not shadowed) and
  # everything else is forwarded to them, so a client can use the gateway as
  # its only resolver. Names are hostnameRe and addresses are parsed before
  # they are quoted, so no string can close a quote or start a new line.
  resolverOf =
    res:
    let
      what = "hearth.ingress.resolver";
      addr = w: a: h.fmtAddr (h.parseCidr w (if isString a && match "[0-9.]+" a != null then a else throw "hearth: ${w}: ${show a} is not an IPv4 address")).s;
      zones = map (checkHostname "${what}.zones") (h.checkList "${what}.zones" res.zones);
      under = n: builtins.any (z: n == z || match ".*\\.${builtins.replaceStrings [ "." ] [ "\\." ] z}" n != null) zones;
      records = map (
        r:
        let
          n = checkHostname "${what}.records.name" r.name;
        in
        {
          name = if under n then n else throw "hearth: ${what}.records.name: ${show n} is under none of ${what}.zones";
          address = addr "${what}.records.address" r.address;
        }
      ) (h.checkList "${what}.records" res.records);
    in
    {
      address = addr "${what}.address" res.address;
      port = h.checkInt "${what}.port" 1 65535 res.port;
      interface = h.checkIfName "${what}.interface" res.interface;
      allow = map (a: builtins.seq (h.parseCidr "${what}.allow" a) a) (h.checkList "${what}.allow" res.allow);
      inherit zones records;
      forward = map (addr "${what}.forward") (h.checkList "${what}.forward" res.forward);
    };

  unbound =
    res:
    let
      v = resolverOf res;
      only = v.forward == [ ];
    in
    builtins.deepSeq v (
      {
        server = {
          interface = [ v.address ];
          port = v.port;
          access-control = map (a: "${a} allow") v.allow;
          local-zone =
            map (z: "\"${z}.\" ${if only then "static" else "transparent"}") v.zones
            ++ (if only then [ "\".\" refuse" ] else [ ]);
          local-data = map (x: "\"${x.name}. 300 IN A ${x.address}\"") v.records;
          hide-identity = true;
          hide-version = true;
        }
        # Forwarded names of a name space come from the LAN resolvers' own
        # (unsigned) copy of it: NixOS's unbound validates DNSSEC
        # (auto-trust-anchor-file), which would call a signed public
        # parent's delegation bogus. A split-horizon zone is insecure.
        // (if only then { } else { domain-insecure = map (z: "\"${z}.\"") v.zones; });
      }
      // (
        if only then
          { }
        else
          {
            forward-zone = [
              {
                name = ".";
                forward-addr = v.forward;
              }
            ];
          }
      )
    );

  # nixpkgs' toConf (nixos/modules/services/networking/unbound.nix): `server:`
  # first, keys in attribute order, lists repeat the key, bools yes/no,
  # strings as they are, attrsets open an indented clause.
  unboundConf =
    settings:
    let
      opt = indent: n: v: "${indent}${n}: ${v}";
      toConf =
        indent: n: v:
        if builtins.isInt v then
          opt indent n (toString v)
        else if builtins.isBool v then
          opt indent n (if v then "yes" else "no")
        else if isString v then
          opt indent n v
        else if isList v then
          concatStringsSep "\n" (map (toConf indent n) v)
        else if builtins.isAttrs v then
          concatStringsSep "\n" ([ "${indent}${n}:" ] ++ map (k: toConf "${indent}  " k v.${k}) (builtins.attrNames v))
        else
          throw "hearth: unboundConf: ${n}: ${show v} is not a setting";
      rest = builtins.removeAttrs settings [ "server" ];
    in
    concatStringsSep "\n" (
      [ "server:" ]
      ++ map (k: toConf "  " k settings.server.${k}) (builtins.attrNames settings.server)
      ++ map (k: toConf "" k rest.${k}) (builtins.attrNames rest)
    )
    + "\n";

  resolverInput =
    res:
    let
      v = resolverOf res;
    in
    {
      name = "ingress-resolver";
      inherit (v) interface;
      from = v.allow;
      to = [ v.address ];
      proto = [
        "tcp"
        "udp"
      ];
      ports = [ (toString v.port) ];
    };
in
{
  inherit
    caddyConfig
    caddyJson
    caddyBasicEnv
    traefik
    legoArgs
    dnsRecords
    unbound
    unboundConf
    resolverInput
    ;
}
