# The ingress renderer: `hearth.ingress` (hosts/<host>/hearth.nix) -> the
# Caddyfile Caddy runs, Traefik's dynamic configuration, and the lego
# arguments NixOS's acme module gives lego. builtins only.
#
# Every string that reaches a config file is checked against the same
# character classes `generator/src/area/ingress.rs` validates with (a
# property test proves the two agree); what passes cannot open a block,
# close a quote, start a placeholder or a comment, or end a line.
#
# caddyfile { cfg; secretPath; certDir; }
#   secretPath: agenix name -> path of the decrypted file (NixOS:
#     config.age.secrets.<name>.path); certDir: certificate name -> its
#     directory holding cert.pem and key.pem (NixOS: /var/lib/acme/<name>).
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

  # ---- Caddy ---------------------------------------------------------------
  #
  # One site block per policy class: the sites of one name space whose
  # allow list (as a set), auth (type and secret) and upstream scheme are
  # the same share one block listing all their names
  # (`grafana.home.example.net,` / `nzbget.home.example.net {`), and
  # `map {host} {hearth_upstream}` picks each site's upstream; a class of
  # one site names its upstream directly. Then one `*.home.example.net`
  # block per name space closes the connection for names no site serves.
  # Caddy loads a certificate file once however many blocks name it.
  #
  # Why: every request walks the server's routes, one host matcher each
  # (SplitHostPort, a context look-up, the compare); 500 sites in 20 allow
  # groups are 20 routes this way instead of 500 (docs/performance.md,
  # "Ingress", fourth pass). Why not one wildcard block with a `handle` per
  # site: the handles of one block are a subroute, which Caddy 2.6 compiles
  # again on every request, all of them (500 sites: 38-44% of the 1-site
  # request rate).
  #
  # Caddy 2.6.2 (modules/caddyhttp/reverseproxy/addresses.go,
  # parseUpstreamDialAddress, tag v2.6.2 read 2026-11-28) takes a
  # placeholder upstream only without a scheme: the map yields host:port and
  # a class of https upstreams (the scheme is part of the class) gets
  # `transport http { tls }`, what `reverse_proxy https://...` means. The
  # map compares `{host}` exactly while host matchers ignore case, so a
  # name written with capitals in the Host header finds no upstream: 502,
  # never another site's backend.

  # "*.home.example.net" -> "home.example.net"
  baseOf = d: builtins.substring 2 (stringLength d) d;

  caddyTls =
    args@{ certDir, ... }:
    tls: c:
    let
      dir = checkPath "certDir ${show c.name}" (certDir c.name);
      protocols = if tls.minVersion == "1.3" then "tls1.3 tls1.3" else "tls1.2 tls1.3";
    in
    [
      (if tls.mode == "internal" then "\ttls internal {" else "\ttls ${dir}/cert.pem ${dir}/key.pem {")
      "\t\tprotocols ${protocols}"
      "\t}"
    ];

  # One site, checked; `key` is its policy class within its name space.
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
    # The name is not in the Caddyfile, but a bad one fails here as in Traefik's config.
    builtins.seq (nameOf i s) {
      inherit i what upstream allow auth;
      inherit scheme;
      host = under;
      dial = builtins.elemAt parts 1;
      key = builtins.toJSON {
        allow = builtins.sort builtins.lessThan allow;
        inherit auth scheme;
      };
    };

  # The block of one policy class (a list of caddySiteOf, same key).
  caddyClass =
    args@{ secretPath, ... }:
    fwd: tls: tlsLines: vs:
    let
      v = builtins.head vs;
      guard = if v.allow == [ ] then [ "\t\trespond 403" ] else [ "\t\trespond @deny 403" ];
      authLines =
        if v.auth.type == "basic" then
          [
            "\t\tbasicauth {"
            "\t\t\timport ${checkPath "secretPath ${show v.auth.basicSecret}" (secretPath v.auth.basicSecret)}"
            "\t\t}"
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
            # deletes them itself (middlewares/auth/forward.go).
            map (hd: "\t\trequest_header -${hd}") fwd.copyHeaders
            ++ [
              "\t\tforward_auth ${fwd.upstream} {"
              "\t\t\turi \"${fwd.uri}\""
            ]
            ++ (if fwd.copyHeaders == [ ] then [ ] else [ "\t\t\tcopy_headers ${concatStringsSep " " fwd.copyHeaders}" ])
            ++ [ "\t\t}" ]
        else
          [ ];
      proxy =
        if builtins.length vs == 1 then
          [ "\t\treverse_proxy ${v.upstream}" ]
        else
          [ "\t\tmap {host} {hearth_upstream} {" ]
          ++ map (x: "\t\t\t${x.host} ${x.dial}") vs
          ++ [ "\t\t}" ]
          ++ (
            if v.scheme == "https" then
              [
                "\t\treverse_proxy {hearth_upstream} {"
                "\t\t\ttransport http {"
                "\t\t\t\ttls"
                "\t\t\t}"
                "\t\t}"
              ]
            else
              [ "\t\treverse_proxy {hearth_upstream}" ]
          );
      hosts = map (x: x.host) vs;
      n = builtins.length hosts;
    in
    concatStringsSep "\n" (
      builtins.genList (k: builtins.elemAt hosts k + ",") (n - 1)
      ++ [ "${builtins.elemAt hosts (n - 1)} {" ]
      ++ tlsLines
      ++ (if tls.hsts > 0 then [ "\theader Strict-Transport-Security \"max-age=${toString tls.hsts}\"" ] else [ ])
      ++ (if v.allow == [ ] then [ ] else [ "\t@deny not remote_ip ${concatStringsSep " " v.allow}" ])
      ++ [ "\troute {" ]
      ++ guard
      ++ authLines
      ++ proxy
      ++ [
        "\t}"
        "}"
      ]
    );

  # The sites of one certificate grouped by policy class, classes in the
  # order their first site is listed, sites in list order within a class.
  classesOf =
    vs:
    let
      groups = builtins.groupBy (v: v.key) vs;
    in
    map (v: groups.${v.key}) (filter (v: (builtins.head groups.${v.key}).i == v.i) vs);

  caddyBlocks =
    args:
    cfg: fwd: tls: sites: c:
    let
      base = checkHostname "hearth.ingress.certificates.domain" (baseOf (checkWildcard c.domain));
      mine = filter (x: checkCert cfg "hearth.ingress.sites.${toString x.i}.cert" x.s.cert == c.name) sites;
      tlsLines = caddyTls args tls c;
    in
    if mine == [ ] then
      [ ]
    else
      map (caddyClass args fwd tls tlsLines) (classesOf (map (caddySiteOf base) mine))
      ++ [
        (concatStringsSep "\n" (
          [ "*.${base} {" ]
          ++ tlsLines
          ++ [
            "\tabort"
            "}"
          ]
        ))
      ];

  caddyfile =
    args@{ cfg, secretPath, certDir }:
    let
      tls = tlsOf cfg;
      fwd = forwardOf cfg;
      httpPort = h.checkInt "hearth.ingress.httpPort" 1 65535 cfg.httpPort;
      httpsPort = h.checkInt "hearth.ingress.httpsPort" 1 65535 cfg.httpsPort;
      _backend = checkEnum "hearth.ingress.backend" [ "caddy" "traefik" ] cfg.backend;
      sites = indexed (sitesOf cfg);
      # Every site names a known certificate (checked before grouping).
      _certs = map ({ i, s }: checkCert cfg "hearth.ingress.sites.${toString i}.cert" s.cert) sites;
      blocks = concatMap (caddyBlocks args cfg fwd tls sites) (h.checkList "hearth.ingress.certificates" cfg.certificates);
    in
    builtins.deepSeq [ _backend _certs ] (
      concatStringsSep "\n" (
        [
          "# Generated by hearth (modules/lib/ingress.nix) from hosts/<host>/hearth.nix. Do not edit."
          "{"
          "\thttp_port ${toString httpPort}"
          "\thttps_port ${toString httpsPort}"
          "\tskip_install_trust"
          "}"
        ]
        ++ concatMap (b: [
          ""
          b
        ]) blocks
      )
      + "\n"
    );

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
    caddyfile
    traefik
    legoArgs
    dnsRecords
    unbound
    unboundConf
    resolverInput
    ;
}
