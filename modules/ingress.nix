# hearth's ingress: Caddy (default) or Traefik serving the web services by
# name over HTTPS, with the same allow lists as the gateway's allowlist.
# Caddy's JSON config and Traefik's dynamic configuration come from the
# pure renderer ./lib/ingress.nix (the lab runs the same JSON in a real
# Caddy); certificates from NixOS's security.acme (lego, DNS-01, one
# wildcard per name space), the DNS provider's credentials and the
# basic-auth users from agenix.
#
# NixOS options set here, read from nixpkgs sources (stored copies; 26.05
# not available offline, see checks/eval/stubs.nix):
#   services/web-servers/caddy/default.nix (stored copy at 0145c6da,
#     read 2026-11-28): enable, configFile (types.path, used as is), adapter
#     (nullOr str; defaults to "caddyfile" once configFile is set, null
#     omits --adapter), user, group; ExecStart `caddy run --config
#     /etc/caddy/caddy_config`, so a JSON configFile needs adapter = null
#   services/web-servers/traefik.nix: enable, staticConfigOptions,
#     dynamicConfigOptions (jsonValue), group; the early-2026 refactor
#     (static/dynamic submodules) was reverted to this layout
#   security/acme/default.nix (2025 rework, units acme-<cert> and
#     acme-order-renew-<cert>; credentialsFile renamed environmentFile;
#     credentialFiles; preliminarySelfsigned removed): acceptTerms,
#     certs.<n>.{domain, extraDomainNames, dnsProvider, dnsPropagationCheck,
#     server, email, group, reloadServices, environmentFile, directory}
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth.ingress;
  render = import ./lib/ingress.nix;

  isCaddy = cfg.backend == "caddy";
  useAcme = cfg.tls.mode == "acme";
  proxyUnit = if isCaddy then "caddy" else "traefik";
  proxyUser = if isCaddy then config.services.caddy.user else "traefik";
  proxyGroup = if isCaddy then config.services.caddy.group else config.services.traefik.group;

  certDir = n: config.security.acme.certs.${n}.directory;
  secretPath = n: config.age.secrets.${n}.path;
  # Traefik reads htpasswd lines (USER:HASH); the secret holds Caddy's
  # (USER HASH): converted at start into the runtime directory.
  traefikSecretPath = n: "/run/hearth-ingress/${n}.htpasswd";
  caddyEnvFile = "/run/hearth-ingress/caddy.env";
  basicSecrets = lib.unique (lib.filter (x: x != null) (map (s: s.auth.basicSecret) cfg.sites));

  str = lib.types.str;
  resolverOpts = {
    options = {
      address = lib.mkOption {
        type = str;
        example = "10.69.222.3";
        description = "The gateway's VPN address, where unbound listens.";
      };
      port = lib.mkOption {
        type = lib.types.port;
        default = 53;
        description = "The port it listens on.";
      };
      interface = lib.mkOption {
        type = str;
        example = "hearth0";
        description = "The WireGuard interface VPN clients' queries arrive on.";
      };
      allow = lib.mkOption {
        type = lib.types.listOf str;
        example = [ "10.69.222.0/24" ];
        description = "Networks allowed to query (unbound's access-control; everyone else is refused).";
      };
      zones = lib.mkOption {
        type = lib.types.listOf str;
        example = [
          "home.example.net"
          "lan.home.example.net"
        ];
        description = "The name spaces (VPN and LAN).";
      };
      records = lib.mkOption {
        type = lib.types.listOf (
          lib.types.submodule {
            options = {
              name = lib.mkOption {
                type = str;
                example = "grafana.home.example.net";
                description = "A site's name.";
              };
              address = lib.mkOption {
                type = str;
                example = "10.69.13.10";
                description = "The ingress's address.";
              };
            };
          }
        );
        default = [ ];
        description = "One A record per site.";
      };
      forward = lib.mkOption {
        type = lib.types.listOf str;
        default = [ ];
        example = [ "10.69.13.5" ];
        description = "Resolvers other names go to (the LAN's); empty: other names are refused.";
      };
    };
  };
  siteOpts = {
    options = {
      name = lib.mkOption {
        type = lib.types.strMatching "[a-z0-9][a-z0-9_-]*";
        description = "The site's name (the service's, `_lan` appended for its LAN name).";
      };
      host = lib.mkOption {
        type = str;
        example = "grafana.home.example.net";
        description = "The name it is served at.";
      };
      cert = lib.mkOption {
        type = str;
        description = "The entry of {option}`hearth.ingress.certificates` whose certificate serves it.";
      };
      upstream = lib.mkOption {
        type = str;
        example = "http://10.69.13.11:3000";
        description = "Where requests go.";
      };
      allow = lib.mkOption {
        type = lib.types.listOf str;
        description = "Client addresses or CIDRs that get the site; everyone else gets 403. Empty: nobody.";
      };
      auth = {
        type = lib.mkOption {
          type = lib.types.enum [
            "none"
            "basic"
            "forward"
          ];
          description = "Authentication in front of the site.";
        };
        basicSecret = lib.mkOption {
          type = lib.types.nullOr str;
          description = "With `basic`: the agenix secret holding `USER BCRYPT-HASH` lines.";
        };
        users = lib.mkOption {
          type = lib.types.listOf str;
          default = [ ];
          example = [ "alice" ];
          description = "With `basic`: the users whose lines the secret holds (Caddy's accounts; their hashes reach Caddy through its environment, never the store).";
        };
      };
    };
  };
in
{
  options.hearth.ingress = {
    enable = lib.mkEnableOption "hearth's ingress (HTTPS by name, with the allowlist's allow lists)";
    backend = lib.mkOption {
      type = lib.types.enum [
        "caddy"
        "traefik"
      ];
      default = "caddy";
      description = "The reverse proxy.";
    };
    address = lib.mkOption {
      type = lib.types.nullOr str;
      description = "This host's LAN address (the names' A record).";
    };
    httpPort = lib.mkOption {
      type = lib.types.port;
      default = 80;
      description = "Plain HTTP: redirects to HTTPS.";
    };
    httpsPort = lib.mkOption {
      type = lib.types.port;
      default = 443;
      description = "HTTPS.";
    };
    tls = {
      mode = lib.mkOption {
        type = lib.types.enum [
          "acme"
          "internal"
        ];
        default = "acme";
        description = "`acme`: security.acme DNS-01 certificates; `internal`: Caddy's own CA.";
      };
      minVersion = lib.mkOption {
        type = lib.types.enum [
          "1.2"
          "1.3"
        ];
        default = "1.2";
        description = "The lowest TLS version offered (1.3 is always offered and preferred).";
      };
      hsts = lib.mkOption {
        type = lib.types.ints.between 0 63072000;
        default = 31536000;
        description = "Strict-Transport-Security max-age; 0 sends no header.";
      };
    };
    certificates = lib.mkOption {
      type = lib.types.listOf (
        lib.types.submodule {
          options = {
            name = lib.mkOption {
              type = str;
              description = "The security.acme.certs entry.";
            };
            domain = lib.mkOption {
              type = lib.types.strMatching "\\*\\..*";
              description = "The wildcard it covers.";
            };
            extraDomains = lib.mkOption {
              type = lib.types.listOf str;
              default = [ ];
              description = "More names on it.";
            };
          };
        }
      );
      description = "One wildcard certificate per name space.";
    };
    acme = {
      server = lib.mkOption {
        type = str;
        description = "The ACME directory URL.";
      };
      email = lib.mkOption {
        type = str;
        description = "The ACME account's email.";
      };
      dnsProvider = lib.mkOption {
        type = str;
        example = "cloudflare";
        description = "lego's DNS provider code.";
      };
      propagationCheck = lib.mkOption {
        type = lib.types.bool;
        description = "Wait for the TXT record on the authoritative servers.";
      };
      credentialsSecret = lib.mkOption {
        type = lib.types.nullOr str;
        description = ''
          The agenix secret with the provider's `KEY=value` lines, given to
          lego as the unit's EnvironmentFile (never in the store).
        '';
      };
      caRoot = lib.mkOption {
        type = lib.types.nullOr str;
        default = null;
        description = "PEM root of an own ACME CA (step-ca) that lego trusts.";
      };
    };
    forwardAuth = lib.mkOption {
      type = lib.types.nullOr (
        lib.types.submodule {
          options = {
            upstream = lib.mkOption {
              type = str;
              description = "The auth service, `http://HOST:PORT`.";
            };
            uri = lib.mkOption {
              type = str;
              description = "The path asked.";
            };
            copyHeaders = lib.mkOption {
              type = lib.types.listOf str;
              description = "Response headers copied to the backend's request.";
            };
          };
        }
      );
      default = null;
      description = "The service sites with `auth.type = \"forward\"` ask first.";
    };
    routeBack = lib.mkOption {
      type = lib.types.nullOr (
        lib.types.submodule {
          options = {
            destination = lib.mkOption {
              type = str;
              description = "The VPN pool.";
            };
            via = lib.mkOption {
              type = str;
              description = "The gateway's LAN address.";
            };
          };
        }
      );
      default = null;
      description = ''
        The gateway does not masquerade towards the ingress (it must see each
        client's own address to apply the allow lists), so replies to VPN
        clients need this route.
      '';
    };
    sites = lib.mkOption {
      type = lib.types.listOf (lib.types.submodule siteOpts);
      default = [ ];
      description = "What is served, by name.";
    };
    resolver = lib.mkOption {
      type = lib.types.nullOr (lib.types.submodule resolverOpts);
      default = null;
      description = ''
        On the wireguard-gateway (`[ingress] resolver = "gateway"`): an
        unbound at its VPN address that answers every site's name with the
        ingress's address for VPN clients, and forwards other names to
        `forward` (refuses them when empty). Independent of
        {option}`hearth.ingress.enable` (the proxy), which is off on a gateway
        that is not the ingress.
      '';
    };
  };

  config = lib.mkMerge [
    (lib.mkIf (cfg.resolver != null) {
      assertions = [
        {
          assertion = config.hearth.allowlist.enable;
          message = "hearth.ingress.resolver: the input rule that lets VPN clients reach it on 53 is rendered by hearth.allowlist; enable hearth.allowlist (`hearth render` sets it on the gateway).";
        }
      ];
      # services.unbound.{enable, settings (freeform attrs of str/int/bool/
      # lists/attrs, written verbatim by toConf), resolveLocalQueries (bool,
      # default true)}: nixpkgs nixos/modules/services/networking/unbound.nix
      # (stored copy with settings.server.define-tag, 2024/2025). The
      # module's own server defaults (interface, access-control) are
      # mkDefault, so ours replace them.
      services.unbound = {
        enable = true;
        settings = render.unbound cfg.resolver;
        # It listens on the VPN address only: the gateway keeps its own resolv.conf.
        resolveLocalQueries = false;
      };
      hearth.allowlist.input = [ (render.resolverInput cfg.resolver) ];
    })
    (lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = cfg.tls.mode == "internal" -> isCaddy;
            message = "hearth.ingress.tls.mode: \"internal\" is Caddy's own CA; set hearth.ingress.backend = \"caddy\" or use tls.mode = \"acme\".";
          }
          {
            assertion = lib.all (n: config.age.secrets ? ${n}) basicSecrets;
            message = "hearth.ingress.sites: a basic-auth secret is not in age.secrets; run `hearth secret set ingress-basic-SERVICE --host HOST` and `hearth render`.";
          }
          {
            assertion = cfg.acme.credentialsSecret == null || config.age.secrets ? ${cfg.acme.credentialsSecret};
            message = "hearth.ingress.acme.credentialsSecret names no age.secrets entry; run `hearth secret set NAME --host HOST` and `hearth render`.";
          }
        ];
        networking.firewall.allowedTCPPorts = [
          cfg.httpPort
          cfg.httpsPort
        ];
        # The proxy reads the basic-auth users.
        age.secrets = lib.genAttrs basicSecrets (_: {
          owner = lib.mkForce proxyUser;
        });
      }
      (lib.mkIf (cfg.routeBack != null) {
        systemd.services.hearth-ingress-route = {
          description = "hearth: route back to the VPN through the gateway (no masquerade towards the ingress)";
          wantedBy = [ "multi-user.target" ];
          before = [ "${proxyUnit}.service" ];
          after = [ "network-online.target" ];
          wants = [ "network-online.target" ];
          path = [ pkgs.iproute2 ];
          serviceConfig = {
            Type = "oneshot";
            RemainAfterExit = true;
          };
          script = "ip route replace ${lib.escapeShellArg cfg.routeBack.destination} via ${lib.escapeShellArg cfg.routeBack.via}";
        };
      })
      (lib.mkIf useAcme {
        security.acme.acceptTerms = true;
        security.acme.certs = lib.listToAttrs (
          map (c: {
            inherit (c) name;
            value = {
              inherit (c) domain;
              extraDomainNames = c.extraDomains;
              inherit (cfg.acme) dnsProvider server email;
              dnsPropagationCheck = cfg.acme.propagationCheck;
              group = proxyGroup;
              reloadServices = [ "${proxyUnit}.service" ];
              environmentFile =
                if cfg.acme.credentialsSecret == null then null else secretPath cfg.acme.credentialsSecret;
            };
          }) cfg.certificates
        );
        systemd.services = lib.mkMerge [
          {
            ${proxyUnit} = {
              wants = map (c: "acme-${c.name}.service") cfg.certificates;
              after = map (c: "acme-${c.name}.service") cfg.certificates;
            };
          }
          (lib.mkIf (cfg.acme.caRoot != null) (
            lib.listToAttrs (
              map (c: {
                name = "acme-order-renew-${c.name}";
                value.environment.LEGO_CA_CERTIFICATES = "${pkgs.writeText "hearth-acme-ca-root.pem" cfg.acme.caRoot}";
              }) cfg.certificates
            )
          ))
        ];
      })
      (lib.mkIf isCaddy {
        services.caddy.enable = true;
        # Caddy's JSON, used as is: exactly `hearth preview HOST caddy`. A
        # configFile of our own makes the adapter default to "caddyfile";
        # null omits --adapter, and a file not named Caddyfile* is JSON.
        services.caddy.configFile = pkgs.writeText "caddy.json" (render.caddyJson {
          inherit cfg certDir;
        });
        services.caddy.adapter = null;
        # The basic-auth hashes: the config names {env.HEARTH_BASIC_<k>};
        # as root ("+") before each start, the renderer's script takes them
        # from the agenix secrets into a root-only file systemd reads into
        # Caddy's environment ("-": absent at the first ExecStartPre). A
        # changed secret needs a restart (a reload keeps the environment).
        systemd.services.caddy.serviceConfig = lib.mkIf (basicSecrets != [ ]) {
          RuntimeDirectory = "hearth-ingress";
          RuntimeDirectoryMode = "0700";
          EnvironmentFile = [ "-${caddyEnvFile}" ];
          ExecStartPre = [
            (
              "+"
              + pkgs.writeShellScript "hearth-ingress-caddy-env" (render.caddyBasicEnv {
                inherit cfg secretPath;
                out = caddyEnvFile;
              })
            )
          ];
        };
        systemd.services.caddy.restartTriggers = map (n: config.age.secrets.${n}.file) basicSecrets;
      })
      (lib.mkIf (!isCaddy) {
        services.traefik.enable = true;
        services.traefik.staticConfigOptions = {
          entryPoints.web = {
            address = ":${toString cfg.httpPort}";
            http.redirections.entryPoint = {
              to = "websecure";
              scheme = "https";
            };
          };
          entryPoints.websecure.address = ":${toString cfg.httpsPort}";
        };
        services.traefik.dynamicConfigOptions = render.traefik {
          inherit cfg certDir;
          secretPath = traefikSecretPath;
        };
        systemd.services.traefik.serviceConfig = lib.mkIf (basicSecrets != [ ]) {
          RuntimeDirectory = "hearth-ingress";
          RuntimeDirectoryMode = "0700";
          # As root ("+"): USER HASH -> USER:HASH, readable by traefik only.
          ExecStartPre = [
            (
              "+"
              + pkgs.writeShellScript "hearth-ingress-htpasswd" (
                lib.concatMapStrings (n: ''
                  install -m 0400 -o traefik /dev/null ${traefikSecretPath n}
                  ${pkgs.gnused}/bin/sed -E 's/^([^ ]+) +/\1:/' ${lib.escapeShellArg (secretPath n)} > ${traefikSecretPath n}
                '') basicSecrets
              )
            )
          ];
        };
      })
    ]
  ))
  ];
}
