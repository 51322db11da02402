# VM test of modules/ingress.nix with Traefik (no Debian package, so the lab
# cannot run it) and with Caddy (the lab runs Caddy on the same JSON; here
# the module's systemd wiring: adapter, the basic-auth environment file
# written as root before start): a CA node runs pebble +
# pebble-challtestsrv; each ingress host (traefik 10.69.13.10, caddy
# 10.69.13.12) gets one wildcard certificate by DNS-01 through security.acme (lego's exec
# provider sets the TXT record in challtestsrv) and serves two backends by
# name. An allowed client gets the backend over TLS verified against
# pebble's root, a denied one gets 403, basic auth without the password 401,
# with it 200; plain HTTP redirects to HTTPS; no plaintext password and no
# hash is in the store. Forward auth: radarr asks an auth service on the
# backend (a few lines of Python standing in for Authelia's
# /api/authz/forward-auth: 200 with Remote-User for the session cookie,
# else 302 to the portal); the backend echoes the Remote-User it was sent.
#
#   ca 10.69.13.2 (pebble :14000, challtestsrv dns :53, mgmt :8055)
#   ingress 10.69.13.10 (traefik), caddy 10.69.13.12   backend 10.69.13.11 (:3000, :8989, :7878, auth :9091)
#   admin 10.69.13.21 (allowed)     other 10.69.13.22 (denied)
#
# The resolver (`[ingress] resolver = "gateway"`): the gateway (LAN
# 10.69.13.1, "internet" 192.168.1.1, VPN 10.69.222.1) runs unbound with
# hearth.ingress.resolver; a WireGuard laptop (192.168.1.2, VPN 10.69.222.10)
# resolves the sites' names through the tunnel (UDP and TCP: NixOS's
# firewall opens 53 on hearth0 only, by the allowlist's input rule); other
# names are refused; the LAN gets no answer.
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) keys secret address noMasquerade;
  domain = "home.test";
  wfeCert = ./test-keys/pebble-wfe-TEST-ONLY.pem;
  wfeKey = ./test-keys/pebble-wfe-TEST-ONLY.key;
  hosts = {
    networking.extraHosts = ''
      10.69.13.2 ca
    '';
  };
  # The ingress host, as Traefik (the lab cannot run it) and as Caddy (the
  # module's JSON config and its basic-auth environment file under systemd).
  ingressNode =
    backend: addr:
    { pkgs, ... }:
    let
      # lego's exec provider: present|cleanup FQDN VALUE -> challtestsrv.
      hook = pkgs.writeShellScript "challtestsrv-txt" ''
        case "$1" in
          present) ${pkgs.curl}/bin/curl -sf -X POST -d "{\"host\":\"$2\",\"value\":\"$3\"}" http://ca:8055/set-txt ;;
          cleanup) ${pkgs.curl}/bin/curl -sf -X POST -d "{\"host\":\"$2\"}" http://ca:8055/clear-txt ;;
        esac
      '';
    in
    {
      imports = [ (address "eth1" addr) ];
      virtualisation.vlans = [ 1 ];
      age.secrets.ingress-basic-sonarr = secret ./test-keys/ingress-basic-sonarr-TEST-ONLY.age;
      hearth.ingress = {
        enable = true;
        inherit backend;
        address = addr;
        httpPort = 80;
        httpsPort = 443;
        tls = {
          mode = "acme";
          minVersion = "1.2";
          hsts = 31536000;
        };
        certificates = [
          {
            name = domain;
            domain = "*.${domain}";
            extraDomains = [ ];
          }
        ];
        acme = {
          server = "https://ca:14000/dir";
          email = "acme@home.test";
          dnsProvider = "exec";
          propagationCheck = false;
          credentialsSecret = null;
          caRoot = builtins.readFile wfeCert;
        };
        forwardAuth = {
          upstream = "http://10.69.13.11:9091";
          uri = "/api/authz/forward-auth";
          copyHeaders = [
            "Remote-User"
            "Remote-Groups"
          ];
        };
        routeBack = null;
        sites = [
          (site "grafana" "grafana" "http://10.69.13.11:3000" [ "10.69.13.21" ] none)
          (site "sonarr" "sonarr" "http://10.69.13.11:8989" [ "10.69.13.21" ] {
            type = "basic";
            basicSecret = "ingress-basic-sonarr";
            users = [ "alice" ];
          })
          (site "radarr" "radarr" "http://10.69.13.11:7878" [ "10.69.13.21" ] {
            type = "forward";
            basicSecret = null;
          })
        ];
      };
      # The test's DNS provider: not secret, so a store file is fine here.
      security.acme.certs.${domain} = {
        environmentFile = pkgs.writeText "exec.env" "EXEC_PATH=${hook}\n";
        dnsResolver = "10.69.13.2:53";
      };
    };
  site = name: sub: upstream: allow: auth: {
    inherit name upstream allow auth;
    host = "${sub}.${domain}";
    cert = domain;
  };
  none = {
    type = "none";
    basicSecret = null;
  };
  # A STAND-IN for Authelia's forward-auth endpoint (not Authelia), and a
  # backend that echoes the Remote-User header it got. The session value is
  # a test constant.
  authStandIn = builtins.toFile "auth-stand-in.py" ''
    import http.server, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/api/authz/forward-auth"):
                if "authelia_session=TEST-ONLY-session" in (self.headers.get("Cookie") or ""):
                    self.send_response(200)
                    self.send_header("Remote-User", "alice")
                    self.send_header("Remote-Groups", "admins")
                else:
                    self.send_response(302)
                    self.send_header("Location", "https://auth.${domain}/?rd=https://" + (self.headers.get("X-Forwarded-Host") or ""))
                self.end_headers()
            else:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"backend " + sys.argv[1].encode() + b" user=" + (self.headers.get("Remote-User") or "-").encode() + b"\n")
    http.server.HTTPServer(("", int(sys.argv[1])), H).serve_forever()
  '';
in
{
  name = "hearth-ingress";

  defaults.imports = [
    ./common.nix
    hosts
  ];

  nodes = {
    ca =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "10.69.13.2") ];
        virtualisation.vlans = [ 1 ];
        networking.firewall.enable = false;
        systemd.services.challtestsrv = {
          wantedBy = [ "multi-user.target" ];
          serviceConfig.ExecStart = "${pkgs.pebble}/bin/pebble-challtestsrv -dns01 :53 -management :8055 -http01 '' -https01 '' -tlsalpn01 '' -defaultIPv4 10.69.13.10";
        };
        systemd.services.pebble = {
          wantedBy = [ "multi-user.target" ];
          after = [ "challtestsrv.service" ];
          environment.PEBBLE_VA_NOSLEEP = "1";
          serviceConfig.ExecStart = "${pkgs.pebble}/bin/pebble -dnsserver 127.0.0.1:53 -config ${pkgs.writeText "pebble.json" (builtins.toJSON {
            pebble = {
              listenAddress = "0.0.0.0:14000";
              managementListenAddress = "0.0.0.0:15000";
              certificate = wfeCert;
              privateKey = wfeKey;
              httpPort = 5002;
              tlsPort = 5001;
              ocspResponderURL = "";
            };
          })}";
        };
      };

    ingress = ingressNode "traefik" "10.69.13.10";
    caddy = ingressNode "caddy" "10.69.13.12";
    backend =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "10.69.13.11") ];
        virtualisation.vlans = [ 1 ];
        networking.firewall.allowedTCPPorts = [
          3000
          8989
          7878
          9091
        ];
        systemd.services = lib.listToAttrs (
          map (p: {
            name = "backend-${toString p}";
            value = {
              wantedBy = [ "multi-user.target" ];
              serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 -m http.server ${toString p} --directory ${pkgs.writeTextDir "index.html" "backend ${toString p}\n"}";
            };
          }) [
            3000
            8989
          ]
          ++ map (p: {
            name = "echo-${toString p}";
            value = {
              wantedBy = [ "multi-user.target" ];
              serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 ${authStandIn} ${toString p}";
            };
          }) [
            7878
            9091
          ]
        );
      };

    admin =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "10.69.13.21") ];
        virtualisation.vlans = [ 1 ];
        environment.systemPackages = [ pkgs.dnsutils ];
      };

    gateway = {
      imports = [
        (address "eth1" "10.69.13.1")
        (address "eth2" "192.168.1.1")
      ];
      virtualisation.vlans = [
        1
        2
      ];
      age.secrets.hearth-wireguard-key = secret ./test-keys/wg-gateway-TEST-ONLY.age;
      hearth.wireguard = {
        enable = true;
        interface = "hearth0";
        role = "gateway";
        addresses = [ "10.69.222.1/32" ];
        listenPort = 51820;
        mtu = 1420;
        privateKeySecret = "hearth-wireguard-key";
        forwarding = true;
        masquerade = noMasquerade;
        peers = [
          {
            name = "laptop";
            publicKey = keys.admin;
            allowedIPs = [ "10.69.222.10/32" ];
            endpoint = null;
            persistentKeepalive = null;
            presharedKeySecret = null;
          }
        ];
      };
      hearth.allowlist = {
        enable = true;
        interface = "hearth0";
        sources = { };
        rules = [ ];
      };
      # What `hearth render` writes on the gateway (hosts/extgw01/hearth.nix).
      hearth.ingress.resolver = {
        address = "10.69.222.1";
        port = 53;
        interface = "hearth0";
        allow = [ "10.69.222.0/24" ];
        zones = [
          domain
          "lan.${domain}"
        ];
        records = [
          {
            name = "grafana.${domain}";
            address = "10.69.13.10";
          }
          {
            name = "grafana.lan.${domain}";
            address = "10.69.13.10";
          }
        ];
        forward = [ ];
      };
    };

    laptop =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "192.168.1.2") ];
        virtualisation.vlans = [ 2 ];
        environment.systemPackages = [ pkgs.dnsutils ];
        age.secrets.hearth-wireguard-key = secret ./test-keys/wg-admin-TEST-ONLY.age;
        hearth.wireguard = {
          enable = true;
          interface = "hearth0";
          role = "client";
          addresses = [ "10.69.222.10/32" ];
          listenPort = null;
          mtu = 1420;
          privateKeySecret = "hearth-wireguard-key";
          forwarding = false;
          masquerade = noMasquerade;
          peers = [
            {
              name = "gateway";
              publicKey = keys.gateway;
              allowedIPs = [ "10.69.222.0/24" ];
              endpoint = "192.168.1.1:51820";
              persistentKeepalive = 25;
              presharedKeySecret = null;
            }
          ];
        };
      };
    other = {
      imports = [ (address "eth1" "10.69.13.22") ];
      virtualisation.vlans = [ 1 ];
    };
  };

  testScript = ''
    start_all()
    ca.wait_for_open_port(14000)
    ca.wait_for_open_port(8055)

    # security.acme orders the wildcard by DNS-01 (acme-order-renew-<cert>),
    # on both ingress hosts.
    for node, unit in ((ingress, "traefik"), (caddy, "caddy")):
        node.wait_until_succeeds(
            "openssl x509 -in /var/lib/acme/${domain}/cert.pem -noout -issuer | grep -i pebble", timeout=180
        )
        node.wait_for_unit(f"{unit}.service")
        node.wait_for_open_port(443)
    backend.wait_for_open_port(3000)

    # Clients verify against pebble's issuing root.
    for c in (admin, other):
        c.succeed("curl -sf --insecure https://ca:15000/roots/0 -o /tmp/root.pem")

    def get(node, name, extra="", at="10.69.13.10"):
        return node.succeed(
            f"curl -s --cacert /tmp/root.pem --resolve {name}:443:{at} {extra} "
            f"-o /tmp/body -w '%{{http_code}}' https://{name}/; echo; cat /tmp/body"
        )

    for proxy, at in (("traefik", "10.69.13.10"), ("caddy", "10.69.13.12")):
        with subtest(f"{proxy}: an allowed client gets the backend by name over verified TLS"):
            out = get(admin, "grafana.${domain}", at=at)
            assert out.startswith("200") and "backend 3000" in out, out

        with subtest(f"{proxy}: a denied client gets 403"):
            out = get(other, "grafana.${domain}", at=at)
            assert out.startswith("403"), out

        with subtest(f"{proxy}: basic auth: 401 without the password, 200 with it"):
            assert get(admin, "sonarr.${domain}", at=at).startswith("401")
            out = get(admin, "sonarr.${domain}", "-u alice:TEST-ONLY-vm-password", at=at)
            assert out.startswith("200") and "backend 8989" in out, out
            assert get(admin, "sonarr.${domain}", "-u alice:wrong", at=at).startswith("401")
            assert get(other, "sonarr.${domain}", "-u alice:TEST-ONLY-vm-password", at=at).startswith("403")

        with subtest(f"{proxy}: forward auth: 302 without a session, the backend with it, the allow list first"):
            backend.wait_for_open_port(9091)
            backend.wait_for_open_port(7878)
            out = admin.succeed(
                f"curl -s --cacert /tmp/root.pem --resolve radarr.${domain}:443:{at} "
                "-o /tmp/body -w '%{http_code} %{redirect_url}' https://radarr.${domain}/; echo; cat /tmp/body"
            )
            assert out.startswith("302 https://auth.${domain}/?rd=https://radarr.${domain}") and "backend" not in out, out
            session = "-b authelia_session=TEST-ONLY-session"
            out = get(admin, "radarr.${domain}", session, at=at)
            assert out.startswith("200") and "backend 7878 user=alice" in out, out
            # A client's own Remote-User is replaced by the auth service's.
            out = get(admin, "radarr.${domain}", session + " -H 'Remote-User: mallory'", at=at)
            assert "user=alice" in out, out
            assert get(other, "radarr.${domain}", session, at=at).startswith("403")

        with subtest(f"{proxy}: HSTS on, plain HTTP redirects to HTTPS"):
            admin.succeed(
                f"curl -sI --cacert /tmp/root.pem --resolve grafana.${domain}:443:{at} https://grafana.${domain}/ | grep -i '^strict-transport-security: max-age=31536000'"
            )
            admin.succeed(
                f"curl -sI --resolve grafana.${domain}:80:{at} http://grafana.${domain}/ | grep -i '^location: https://grafana.${domain}/'"
            )

    with subtest("caddy: the basic-auth hashes are in a root-only file, read into Caddy's environment"):
        caddy.succeed("test \"$(stat -c '%U %a' /run/hearth-ingress/caddy.env)\" = 'root 600'")
        caddy.succeed("grep -q \"^HEARTH_BASIC_0='\\$2\" /run/hearth-ingress/caddy.env")
        caddy.succeed("tr '\\0' '\\n' < /proc/$(systemctl show -P MainPID caddy)/environ | grep -q '^HEARTH_BASIC_0=\\$2'")

    with subtest("the gateway's resolver: VPN clients resolve the names through the tunnel"):
        gateway.wait_for_unit("unbound.service")
        laptop.wait_for_unit("wireguard-hearth0.service")
        for name in ("grafana.${domain}", "grafana.lan.${domain}"):
            laptop.wait_until_succeeds(f"dig +time=2 +tries=1 +short @10.69.222.1 {name} A | grep -x 10.69.13.10", timeout=60)
        # TCP too (the input rule opens both).
        laptop.succeed("dig +tcp +short @10.69.222.1 grafana.${domain} A | grep -x 10.69.13.10")
        # Not an open resolver: another name is refused, an unserved one in the space is NXDOMAIN.
        laptop.succeed("dig @10.69.222.1 example.org A | grep -q 'status: REFUSED'")
        laptop.succeed("dig @10.69.222.1 nope.${domain} A | grep -q 'status: NXDOMAIN'")
        # The gateway's own resolv.conf is not pointed at it (it listens on the VPN only).
        gateway.fail("grep -q '^nameserver 127.0.0.1' /etc/resolv.conf")
        # The LAN side: NixOS's firewall opens 53 on hearth0 only, so no answer.
        admin.succeed("ip route replace 10.69.222.1/32 via 10.69.13.1")
        admin.fail("dig +time=2 +tries=1 +short @10.69.222.1 grafana.${domain} A | grep -q 10.69.13.10")

    with subtest("neither the password nor the hash is in the store"):
        for node in (ingress, caddy):
            node.fail("grep -rl 'TEST-ONLY-vm-password' /nix/store --include='*' 2>/dev/null | head -1 | grep .")
            h = node.succeed("cut -d' ' -f2 /run/agenix/ingress-basic-sonarr").strip()
            node.fail(f"grep -rlF '{h}' /nix/store/*-traefik* /nix/store/*dynamic* /nix/store/*caddy* 2>/dev/null | grep .")
  '';
}
