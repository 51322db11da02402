# Renderer tests for modules/lib/ingress.nix: the exact Caddy JSON, Traefik
# dynamic configuration, lego arguments and DNS records, and every throw.
let
  lib = import ../../modules/lib;
  r = lib.ingress;
  res = {
    address = "10.69.222.3";
    port = 53;
    interface = "hearth0";
    allow = [ "10.69.222.0/24" ];
    zones = [
      "home.example.net"
      "lan.home.example.net"
    ];
    records = [
      {
        name = "grafana.home.example.net";
        address = "10.69.13.10";
      }
      {
        name = "grafana.lan.home.example.net";
        address = "10.69.13.10";
      }
    ];
    forward = [ ];
  };
  cfg = {
    enable = true;
    backend = "caddy";
    address = "10.69.13.10";
    httpPort = 80;
    httpsPort = 443;
    tls = {
      mode = "acme";
      minVersion = "1.2";
      hsts = 31536000;
    };
    certificates = [
      {
        name = "home.example.net";
        domain = "*.home.example.net";
        extraDomains = [ ];
      }
      {
        name = "lan.home.example.net";
        domain = "*.lan.home.example.net";
        extraDomains = [ ];
      }
    ];
    acme = {
      server = "https://acme-v02.api.letsencrypt.org/directory";
      email = "admin@example.net";
      dnsProvider = "rfc2136";
      propagationCheck = true;
      credentialsSecret = "hearth-ingress-dns";
    };
    forwardAuth = {
      upstream = "http://10.69.13.30:9091";
      uri = "/api/verify?rd=https://auth.home.example.net/";
      copyHeaders = [
        "Remote-User"
        "Remote-Groups"
      ];
    };
    routeBack = {
      destination = "10.69.222.0/24";
      via = "10.69.13.20";
    };
    sites = [
      {
        name = "grafana";
        host = "grafana.home.example.net";
        cert = "home.example.net";
        upstream = "http://10.69.13.11:3000";
        allow = [
          "10.69.222.5"
          "10.69.222.6/32"
        ];
        auth = {
          type = "basic";
          basicSecret = "hearth-ingress-basic-grafana";
          users = [
            "alice"
            "bob"
          ];
        };
      }
      {
        name = "grafana_lan";
        host = "grafana.lan.home.example.net";
        cert = "lan.home.example.net";
        upstream = "http://10.69.13.11:3000";
        allow = [ "10.69.13.0/24" ];
        auth = {
          type = "forward";
          basicSecret = null;
        };
      }
      {
        name = "nzbget";
        host = "nzbget.home.example.net";
        cert = "home.example.net";
        upstream = "https://10.69.13.15:6789";
        allow = [ ];
        auth = {
          type = "none";
          basicSecret = null;
        };
      }
    ];
  };
  args = c: {
    cfg = c;
    secretPath = n: "/run/agenix/${n}";
    certDir = n: "/var/lib/acme/${n}";
  };
  caddy = c: r.caddyConfig { cfg = c; inherit (args c) certDir; };
  site0 = cfg // {
    sites = [ (builtins.head cfg.sites) ];
  };
  withSite = s: cfg // { sites = [ ((builtins.head cfg.sites) // s) ]; };
  withTls = t: cfg // { tls = cfg.tls // t; };
in
[
  {
    name = "caddy: dispatch by name to a route per policy class (allow list, then auth, then the upstream), a closing route per name space, acme certificates";
    expr = caddy cfg;
    expected = {
      apps = {
        http = {
          http_port = 80;
          https_port = 443;
          servers = {
            hearth = {
              listen = [ ":443" ];
              routes = [
                {
                  handle = [
                    {
                      handler = "headers";
                      response = {
                        set = {
                          Strict-Transport-Security = [ "max-age=31536000" ];
                        };
                      };
                    }
                    {
                      destinations = [ "{hearth.class}" ];
                      handler = "map";
                      mappings = [
                        {
                          input = "grafana.home.example.net";
                          outputs = [ "c0" ];
                        }
                        {
                          input = "grafana.lan.home.example.net";
                          outputs = [ "c1" ];
                        }
                        {
                          input = "nzbget.home.example.net";
                          outputs = [ "c2" ];
                        }
                      ];
                      source = "{http.request.host}";
                    }
                    {
                      handler = "vars";
                      hearth_class = "{hearth.class}";
                    }
                  ];
                  match = [
                    {
                      host = [ "grafana.home.example.net" "grafana.lan.home.example.net" "nzbget.home.example.net" ];
                    }
                  ];
                }
                {
                  handle = [
                    {
                      handler = "subroute";
                      routes = [
                        {
                          handle = [
                            {
                              handler = "static_response";
                              status_code = 403;
                            }
                          ];
                          match = [
                            {
                              not = [
                                {
                                  remote_ip = {
                                    ranges = [ "10.69.222.5" "10.69.222.6/32" ];
                                  };
                                }
                              ];
                            }
                          ];
                        }
                      ];
                    }
                    {
                      handler = "authentication";
                      providers = {
                        http_basic = {
                          accounts = [
                            {
                              password = "{env.HEARTH_BASIC_0}";
                              username = "alice";
                            }
                            {
                              password = "{env.HEARTH_BASIC_1}";
                              username = "bob";
                            }
                          ];
                          hash = {
                            algorithm = "bcrypt";
                          };
                          hash_cache = { };
                        };
                      };
                    }
                    {
                      handler = "reverse_proxy";
                      upstreams = [
                        {
                          dial = "10.69.13.11:3000";
                        }
                      ];
                    }
                  ];
                  match = [
                    {
                      vars = {
                        hearth_class = [ "c0" ];
                      };
                    }
                  ];
                  terminal = true;
                }
                {
                  handle = [
                    {
                      handler = "subroute";
                      routes = [
                        {
                          handle = [
                            {
                              handler = "static_response";
                              status_code = 403;
                            }
                          ];
                          match = [
                            {
                              not = [
                                {
                                  remote_ip = {
                                    ranges = [ "10.69.13.0/24" ];
                                  };
                                }
                              ];
                            }
                          ];
                        }
                      ];
                    }
                    {
                      handler = "headers";
                      request = {
                        delete = [ "Remote-User" "Remote-Groups" ];
                      };
                    }
                    {
                      handle_response = [
                        {
                          match = {
                            status_code = [ 2 ];
                          };
                          routes = [
                            {
                              handle = [
                                {
                                  handler = "headers";
                                  request = {
                                    set = {
                                      Remote-Groups = [ "{http.reverse_proxy.header.Remote-Groups}" ];
                                      Remote-User = [ "{http.reverse_proxy.header.Remote-User}" ];
                                    };
                                  };
                                }
                              ];
                            }
                          ];
                        }
                      ];
                      handler = "reverse_proxy";
                      headers = {
                        request = {
                          set = {
                            X-Forwarded-Method = [ "{http.request.method}" ];
                            X-Forwarded-Uri = [ "{http.request.uri}" ];
                          };
                        };
                      };
                      rewrite = {
                        method = "GET";
                        uri = "/api/verify?rd=https://auth.home.example.net/";
                      };
                      upstreams = [
                        {
                          dial = "10.69.13.30:9091";
                        }
                      ];
                    }
                    {
                      handler = "reverse_proxy";
                      upstreams = [
                        {
                          dial = "10.69.13.11:3000";
                        }
                      ];
                    }
                  ];
                  match = [
                    {
                      vars = {
                        hearth_class = [ "c1" ];
                      };
                    }
                  ];
                  terminal = true;
                }
                {
                  handle = [
                    {
                      handler = "static_response";
                      status_code = 403;
                    }
                  ];
                  match = [
                    {
                      vars = {
                        hearth_class = [ "c2" ];
                      };
                    }
                  ];
                  terminal = true;
                }
                {
                  handle = [
                    {
                      abort = true;
                      handler = "static_response";
                    }
                  ];
                  match = [
                    {
                      host = [ "*.home.example.net" ];
                    }
                  ];
                  terminal = true;
                }
                {
                  handle = [
                    {
                      abort = true;
                      handler = "static_response";
                    }
                  ];
                  match = [
                    {
                      host = [ "*.lan.home.example.net" ];
                    }
                  ];
                  terminal = true;
                }
              ];
              tls_connection_policies = [
                {
                  certificate_selection = {
                    any_tag = [ "hearth-home.example.net" ];
                  };
                  match = {
                    sni = [ "*.home.example.net" ];
                  };
                  protocol_max = "tls1.3";
                  protocol_min = "tls1.2";
                }
                {
                  certificate_selection = {
                    any_tag = [ "hearth-lan.home.example.net" ];
                  };
                  match = {
                    sni = [ "*.lan.home.example.net" ];
                  };
                  protocol_max = "tls1.3";
                  protocol_min = "tls1.2";
                }
                { }
              ];
            };
          };
        };
        pki = {
          certificate_authorities = {
            local = {
              install_trust = false;
            };
          };
        };
        tls = {
          certificates = {
            load_files = [
              {
                certificate = "/var/lib/acme/home.example.net/cert.pem";
                key = "/var/lib/acme/home.example.net/key.pem";
                tags = [ "hearth-home.example.net" ];
              }
              {
                certificate = "/var/lib/acme/lan.home.example.net/cert.pem";
                key = "/var/lib/acme/lan.home.example.net/key.pem";
                tags = [ "hearth-lan.home.example.net" ];
              }
            ];
          };
        };
      };
    };
  }
  {
    name = "caddy: tls internal (Caddy's CA for every name and each wildcard), TLS 1.3 only, no HSTS";
    expr =
      let
        c = caddy (withTls {
          mode = "internal";
          minVersion = "1.3";
          hsts = 0;
        });
        srv = c.apps.http.servers.hearth;
      in
      {
        inherit (c.apps) tls;
        policies = srv.tls_connection_policies;
        dispatch = map (h: h.handler) (builtins.head srv.routes).handle;
      };
    expected = {
      tls.automation.policies = [
        {
          subjects = [
            "grafana.home.example.net"
            "grafana.lan.home.example.net"
            "nzbget.home.example.net"
            "*.home.example.net"
            "*.lan.home.example.net"
          ];
          issuers = [ { module = "internal"; } ];
        }
      ];
      policies = [
        {
          match.sni = [ "*.home.example.net" ];
          protocol_min = "tls1.3";
          protocol_max = "tls1.3";
        }
        {
          match.sni = [ "*.lan.home.example.net" ];
          protocol_min = "tls1.3";
          protocol_max = "tls1.3";
        }
        { }
      ];
      dispatch = [
        "map"
        "vars"
      ];
    };
  }
  {
    name = "caddy: no sites is no server";
    expr = r.caddyJson { cfg = cfg // { sites = [ ]; }; inherit (args cfg) certDir; };
    expected = ''
      {
        "apps": {
          "http": {
            "http_port": 80,
            "https_port": 443
          },
          "pki": {
            "certificate_authorities": {
              "local": {
                "install_trust": false
              }
            }
          }
        }
      }
    '';
  }
  {
    name = "caddy: the JSON text is caddyConfig, keys sorted, lists of plain values on one line";
    expr = builtins.fromJSON (r.caddyJson { inherit cfg; inherit (args cfg) certDir; }) == caddy cfg;
    expected = true;
  }
  {
    name = "caddy: sites with the same policy share a class (map picks the upstream); a different allow list or secret does not; one (secret, user) is one variable";
    expr =
      let
        srv = (caddy (cfg // {
          sites = [
            (builtins.head cfg.sites)
            {
              name = "prometheus";
              host = "prometheus.home.example.net";
              cert = "home.example.net";
              upstream = "http://10.69.13.12:9090";
              # the same addresses in another order: the same allow list
              allow = [
                "10.69.222.6/32"
                "10.69.222.5"
              ];
              auth = (builtins.head cfg.sites).auth;
            }
            ((builtins.head cfg.sites) // {
              name = "loki";
              host = "loki.home.example.net";
              upstream = "http://loki.lan:3100";
              allow = [ "10.69.222.5" ];
            })
            ((builtins.head cfg.sites) // {
              name = "alerts";
              host = "alerts.home.example.net";
              auth = {
                type = "basic";
                basicSecret = "hearth-ingress-basic-alerts";
                users = [ "carol" "alice" ];
              };
            })
          ];
        })).apps.http.servers.hearth;
        dispatch = builtins.head srv.routes;
        classes = builtins.filter (x: x.match ? vars || (builtins.head x.match) ? vars) (builtins.tail srv.routes);
      in
      {
        mappings = map (m: "${m.input} ${builtins.head m.outputs}") (builtins.elemAt dispatch.handle 1).mappings;
        classes = map (x: builtins.head (builtins.head x.match).vars.hearth_class) classes;
        c0 = builtins.tail (builtins.head classes).handle;
        accounts = map (x: map (a: "${a.username} ${a.password}") (builtins.elemAt x.handle 1).providers.http_basic.accounts) classes;
      };
    expected = {
      mappings = [
        "grafana.home.example.net c0"
        "prometheus.home.example.net c0"
        "loki.home.example.net c1"
        "alerts.home.example.net c2"
      ];
      classes = [
        "c0"
        "c1"
        "c2"
      ];
      c0 = [
        {
          handler = "authentication";
          providers.http_basic = {
            accounts = [
              {
                username = "alice";
                password = "{env.HEARTH_BASIC_0}";
              }
              {
                username = "bob";
                password = "{env.HEARTH_BASIC_1}";
              }
            ];
            hash.algorithm = "bcrypt";
            hash_cache = { };
          };
        }
        {
          handler = "map";
          source = "{http.request.host}";
          destinations = [ "{hearth.upstream}" ];
          mappings = [
            {
              input = "grafana.home.example.net";
              outputs = [ "10.69.13.11:3000" ];
            }
            {
              input = "prometheus.home.example.net";
              outputs = [ "10.69.13.12:9090" ];
            }
          ];
        }
        {
          handler = "reverse_proxy";
          upstreams = [ { dial = "{hearth.upstream}"; } ];
        }
      ];
      accounts = [
        [
          "alice {env.HEARTH_BASIC_0}"
          "bob {env.HEARTH_BASIC_1}"
        ]
        [
          "alice {env.HEARTH_BASIC_0}"
          "bob {env.HEARTH_BASIC_1}"
        ]
        [
          "carol {env.HEARTH_BASIC_2}"
          "alice {env.HEARTH_BASIC_3}"
        ]
      ];
    };
  }
  {
    name = "caddy: many names are dispatched in buckets of over 100 (Caddy binary-searches such a host list), each with its own map";
    expr =
      let
        mk = i: (builtins.head cfg.sites) // {
          name = "s${toString i}";
          host = "s${toString i}.home.example.net";
        };
        dispatch = n:
          let
            routes = (caddy (cfg // { sites = builtins.genList mk n; })).apps.http.servers.hearth.routes;
          in
          map (rt: {
            hosts = builtins.length (builtins.head rt.match).host;
            mappings = builtins.length (builtins.elemAt rt.handle 1).mappings;
          }) (builtins.filter (rt: (builtins.head rt.match) ? host && !(rt ? terminal)) routes);
      in
      {
        "3" = dispatch 3;
        "201" = dispatch 201;
        "500" = dispatch 500;
      };
    expected = {
      "3" = [ { hosts = 3; mappings = 3; } ];
      "201" = [ { hosts = 201; mappings = 201; } ];
      "500" = [
        { hosts = 125; mappings = 125; }
        { hosts = 125; mappings = 125; }
        { hosts = 125; mappings = 125; }
        { hosts = 125; mappings = 125; }
      ];
    };
  }
  {
    name = "caddy: a shared class of https upstreams proxies over TLS; an http one with the same allow list is apart";
    expr =
      let
        srv = (caddy (cfg // {
          sites = [
            (builtins.elemAt cfg.sites 2)
            ((builtins.elemAt cfg.sites 2) // {
              name = "sonarr";
              host = "sonarr.home.example.net";
              upstream = "https://sonarr.lan:8989";
              allow = [ "10.69.222.5" ];
            })
            ((builtins.elemAt cfg.sites 2) // {
              name = "radarr";
              host = "radarr.home.example.net";
              upstream = "https://10.69.13.15:7878";
              allow = [ "10.69.222.5" ];
            })
            ((builtins.elemAt cfg.sites 2) // {
              name = "lidarr";
              host = "lidarr.home.example.net";
              upstream = "http://10.69.13.15:8686";
              allow = [ "10.69.222.5" ];
            })
          ];
        })).apps.http.servers.hearth;
      in
      map (x: x.handle) (builtins.filter (x: (builtins.head x.match) ? vars) srv.routes);
    expected =
      let
        forbidden = {
          handler = "static_response";
          status_code = 403;
        };
        guard = {
          handler = "subroute";
          routes = [
            {
              match = [ { not = [ { remote_ip.ranges = [ "10.69.222.5" ]; } ]; } ];
              handle = [ forbidden ];
            }
          ];
        };
      in
      [
        # nobody allowed: 403 and nothing else
        [ forbidden ]
        [
          guard
          {
            handler = "map";
            source = "{http.request.host}";
            destinations = [ "{hearth.upstream}" ];
            mappings = [
              {
                input = "sonarr.home.example.net";
                outputs = [ "sonarr.lan:8989" ];
              }
              {
                input = "radarr.home.example.net";
                outputs = [ "10.69.13.15:7878" ];
              }
            ];
          }
          {
            handler = "reverse_proxy";
            upstreams = [ { dial = "{hearth.upstream}"; } ];
            transport = {
              protocol = "http";
              tls = { };
            };
          }
        ]
        [
          guard
          {
            handler = "reverse_proxy";
            upstreams = [ { dial = "10.69.13.15:8686"; } ];
          }
        ]
      ];
  }
  {
    name = "caddy: the same policy in two name spaces is one class; each name space keeps its certificate and its closing route";
    expr =
      let
        srv = (caddy (cfg // {
          sites = [
            ((builtins.elemAt cfg.sites 2) // { upstream = "http://10.69.13.15:6789"; })
            ((builtins.elemAt cfg.sites 2) // {
              name = "nzbget_lan";
              host = "nzbget.lan.home.example.net";
              cert = "lan.home.example.net";
              upstream = "http://10.69.13.15:6789";
            })
          ];
        })).apps.http.servers.hearth;
      in
      {
        mappings = map (m: "${m.input} ${builtins.head m.outputs}") (builtins.elemAt (builtins.head srv.routes).handle 1).mappings;
        routes = builtins.length srv.routes;
        closing = map (x: builtins.head (builtins.head x.match).host) (builtins.filter (x: (builtins.head x.match) ? host) (builtins.tail srv.routes));
        tags = map (p: p.certificate_selection.any_tag or null) srv.tls_connection_policies;
      };
    expected = {
      mappings = [
        "nzbget.home.example.net c0"
        "nzbget.lan.home.example.net c0"
      ];
      routes = 4;
      closing = [
        "*.home.example.net"
        "*.lan.home.example.net"
      ];
      tags = [
        [ "hearth-home.example.net" ]
        [ "hearth-lan.home.example.net" ]
        null
      ];
    };
  }
  {
    name = "caddy: the basic-auth environment script reads each (secret, user) once and writes the file whole or not at all";
    expr = r.caddyBasicEnv {
      inherit cfg;
      secretPath = n: "/run/agenix/${n}";
      out = "/run/hearth-ingress/caddy.env";
    };
    expected = ''
      # Generated by hearth (modules/lib/ingress.nix): Caddy's basic-auth hashes.
      set -eu
      umask 077
      trap "rm -f '/run/hearth-ingress/caddy.env.tmp'" EXIT
      exec 3> '/run/hearth-ingress/caddy.env.tmp'
      hash=
      while read -r user h rest; do
        if [ "$user" = 'alice' ]; then hash=$h; break; fi
      done < '/run/agenix/hearth-ingress-basic-grafana'
      case "$hash" in
        '$2'[aby]'$'[0-9][0-9]'$'*) ;;
        *) echo "hearth: /run/agenix/hearth-ingress-basic-grafana: no line 'alice HASH' with a bcrypt hash (caddy hash-password)" >&2; exit 1 ;;
      esac
      case "$hash" in
        *[!./A-Za-z0-9\$]*) echo "hearth: /run/agenix/hearth-ingress-basic-grafana: the hash of 'alice' has a character bcrypt does not use" >&2; exit 1 ;;
      esac
      printf "%s='%s'\n" HEARTH_BASIC_0 "$hash" >&3
      hash=
      while read -r user h rest; do
        if [ "$user" = 'bob' ]; then hash=$h; break; fi
      done < '/run/agenix/hearth-ingress-basic-grafana'
      case "$hash" in
        '$2'[aby]'$'[0-9][0-9]'$'*) ;;
        *) echo "hearth: /run/agenix/hearth-ingress-basic-grafana: no line 'bob HASH' with a bcrypt hash (caddy hash-password)" >&2; exit 1 ;;
      esac
      case "$hash" in
        *[!./A-Za-z0-9\$]*) echo "hearth: /run/agenix/hearth-ingress-basic-grafana: the hash of 'bob' has a character bcrypt does not use" >&2; exit 1 ;;
      esac
      printf "%s='%s'\n" HEARTH_BASIC_1 "$hash" >&3
      exec 3>&-
      mv -f '/run/hearth-ingress/caddy.env.tmp' '/run/hearth-ingress/caddy.env'
      trap - EXIT
    '';
  }
  {
    name = "traefik: routers, services, middlewares, certificates";
    expr = r.traefik (args site0);
    expected = {
      http = {
        routers.hearth-grafana = {
          rule = "Host(`grafana.home.example.net`)";
          entryPoints = [ "websecure" ];
          service = "hearth-grafana";
          tls = { };
          middlewares = [
            "hearth-hsts"
            "hearth-allow-grafana"
            "hearth-basic-grafana"
          ];
        };
        services.hearth-grafana.loadBalancer.servers = [ { url = "http://10.69.13.11:3000"; } ];
        middlewares = {
          hearth-allow-grafana.ipAllowList.sourceRange = [
            "10.69.222.5"
            "10.69.222.6/32"
          ];
          hearth-basic-grafana.basicAuth.usersFile = "/run/agenix/hearth-ingress-basic-grafana";
          hearth-hsts.headers = {
            stsSeconds = 31536000;
            stsIncludeSubdomains = false;
          };
          hearth-forward-auth.forwardAuth = {
            address = "http://10.69.13.30:9091/api/verify?rd=https://auth.home.example.net/";
            authResponseHeaders = [
              "Remote-User"
              "Remote-Groups"
            ];
          };
        };
      };
      tls = {
        certificates = [
          {
            certFile = "/var/lib/acme/home.example.net/cert.pem";
            keyFile = "/var/lib/acme/home.example.net/key.pem";
          }
          {
            certFile = "/var/lib/acme/lan.home.example.net/cert.pem";
            keyFile = "/var/lib/acme/lan.home.example.net/key.pem";
          }
        ];
        options.default = {
          minVersion = "VersionTLS12";
          sniStrict = true;
        };
      };
    };
  }
  {
    name = "traefik: nobody allowed is an allow list no client matches";
    expr = (r.traefik (args (withSite { allow = [ ]; }))).http.middlewares.hearth-allow-grafana;
    expected.ipAllowList.sourceRange = [ "255.255.255.255/32" ];
  }
  {
    name = "lego: the acme module's arguments for one certificate";
    expr = r.legoArgs cfg "home.example.net";
    expected = [
      "--accept-tos"
      "--path"
      "."
      "--email"
      "admin@example.net"
      "--dns"
      "rfc2136"
      "--server"
      "https://acme-v02.api.letsencrypt.org/directory"
      "--key-type"
      "ec256"
      "-d"
      "*.home.example.net"
      "run"
    ];
  }
  {
    name = "lego: no propagation check";
    expr = builtins.elemAt (r.legoArgs (cfg // { acme = cfg.acme // { propagationCheck = false; }; }) "home.example.net") 7;
    expected = "--dns.propagation-disable-ans";
  }
  {
    name = "dns: one wildcard record per name space";
    expr = r.dnsRecords cfg;
    expected = ''
      *.home.example.net. 300 IN A 10.69.13.10
      *.lan.home.example.net. 300 IN A 10.69.13.10
    '';
  }
  # ---- the gateway's resolver (unbound) -------------------------------------
  {
    name = "resolver: names only (no forward): static name spaces, everything else refused";
    expr = r.unbound res;
    expected = {
      server = {
        interface = [ "10.69.222.3" ];
        port = 53;
        access-control = [ "10.69.222.0/24 allow" ];
        local-zone = [
          "\"home.example.net.\" static"
          "\"lan.home.example.net.\" static"
          "\".\" refuse"
        ];
        local-data = [
          "\"grafana.home.example.net. 300 IN A 10.69.13.10\""
          "\"grafana.lan.home.example.net. 300 IN A 10.69.13.10\""
        ];
        hide-identity = true;
        hide-version = true;
      };
    };
  }
  {
    name = "resolver: with forward: transparent name spaces (host records not shadowed), the rest forwarded";
    expr = r.unboundConf (r.unbound (res // { forward = [ "10.69.13.5" "10.69.13.6" ]; }));
    expected = ''
      server:
        access-control: 10.69.222.0/24 allow
        domain-insecure: "home.example.net."
        domain-insecure: "lan.home.example.net."
        hide-identity: yes
        hide-version: yes
        interface: 10.69.222.3
        local-data: "grafana.home.example.net. 300 IN A 10.69.13.10"
        local-data: "grafana.lan.home.example.net. 300 IN A 10.69.13.10"
        local-zone: "home.example.net." transparent
        local-zone: "lan.home.example.net." transparent
        port: 53
      forward-zone:
        forward-addr: 10.69.13.5
        forward-addr: 10.69.13.6
        name: .
    '';
  }
  {
    name = "resolver: the allowlist input rule that opens 53 to the VPN on the wg interface";
    expr = lib.allowlist.inputRules { input = [ (r.resolverInput res) ]; };
    expected = "iifname \"hearth0\" ip saddr { 10.69.222.0/24 } ip daddr { 10.69.222.3 } meta l4proto { tcp, udp } th dport { 53 } accept comment \"ingress-resolver\"\n";
  }
  {
    name = "resolver: no input rules, no text";
    expr = lib.allowlist.inputRules { input = [ ]; };
    expected = "";
  }
  {
    name = "throws: a resolver record name that would close the quote";
    throws = r.unbound (res // { records = [ { name = "x.home.example.net. A 1.2.3.4\"\nlocal-zone: \"."; address = "10.69.13.10"; } ]; });
    message = "hearth.ingress.resolver.records.name";
  }
  {
    name = "throws: a resolver record outside the name spaces";
    throws = r.unbound (res // { records = [ { name = "grafana.example.org"; address = "10.69.13.10"; } ]; });
    message = "is under none of hearth.ingress.resolver.zones";
  }
  {
    name = "throws: a resolver record address that is not an address";
    throws = r.unbound (res // { records = [ { name = "grafana.home.example.net"; address = "10.69.13.0/24"; } ]; });
    message = "hearth.ingress.resolver.records.address";
  }
  {
    name = "throws: a resolver zone that is not a DNS name";
    throws = r.unbound (res // { zones = [ "home.example.net. static\nlocal-zone: ." ]; });
    message = "hearth.ingress.resolver.zones";
  }
  {
    name = "throws: a resolver listen address with a newline";
    throws = r.unbound (res // { address = "10.69.222.3\ninterface: 0.0.0.0"; });
    message = "hearth.ingress.resolver.address";
  }
  {
    name = "throws: a resolver allow entry that is not a CIDR";
    throws = r.unbound (res // { allow = [ "0.0.0.0/0 allow\naccess-control: ::/0" ]; });
    message = "hearth.ingress.resolver.allow";
  }
  {
    name = "throws: a resolver forward address that is not an address";
    throws = r.unbound (res // { forward = [ "1.1.1.1@853#x" ]; });
    message = "hearth.ingress.resolver.forward";
  }
  {
    name = "throws: a resolver port out of range";
    throws = r.unbound (res // { port = 0; });
    message = "hearth.ingress.resolver.port";
  }
  {
    name = "throws: a resolver interface that is not an interface name";
    throws = r.resolverInput (res // { interface = "wg0\" accept"; });
    message = "hearth.ingress.resolver.interface";
  }
  {
    name = "throws: an input rule with no source";
    throws = lib.allowlist.inputRules { input = [ ((r.resolverInput res) // { from = [ ]; }) ]; };
    message = "hearth.allowlist.input.0.from: empty";
  }
  {
    name = "throws: an input rule with a bad protocol";
    throws = lib.allowlist.inputRules { input = [ ((r.resolverInput res) // { proto = [ "icmp" ]; }) ]; };
    message = "hearth.allowlist.input.0.proto";
  }
  {
    name = "throws: unboundConf of a value that is no setting";
    throws = r.unboundConf { server = { x = null; }; };
    message = "unboundConf: x";
  }
  # ---- throws: every string that reaches a config is checked --------------
  {
    name = "throws: a host that is not a DNS name";
    throws = caddy (withSite { host = "grafana.home.example.net {\n\trespond 200\n}\nx"; });
    message = "hearth.ingress.sites.0.host";
  }
  {
    name = "throws: a host that is not one label under its certificate's wildcard";
    throws = caddy (withSite { host = "a.grafana.home.example.net"; });
    message = "is not one label under home.example.net";
  }
  {
    name = "throws: a host of another name space";
    throws = caddy (withSite { host = "grafana.lan.example.net"; });
    message = "is not one label under home.example.net";
  }
  {
    name = "throws: a caddy site name with a brace";
    throws = caddy (withSite { name = "a{b"; });
    message = "hearth.ingress.sites.0.name";
  }
  {
    name = "throws: an upper-case host";
    throws = caddy (withSite { host = "Grafana.home.example.net"; });
    message = "is not a DNS name";
  }
  {
    name = "throws: an upstream with a placeholder";
    throws = caddy (withSite { upstream = "http://{env.SECRET}:80"; });
    message = "hearth.ingress.sites.0.upstream";
  }
  {
    name = "throws: an upstream without a port";
    throws = caddy (withSite { upstream = "http://10.69.13.11"; });
    message = "is not an upstream";
  }
  {
    name = "throws: a forward-auth uri with a quote";
    throws = caddy (cfg // { forwardAuth = cfg.forwardAuth // { uri = "/x\" }\nimport /etc/shadow #"; }; });
    message = "hearth.ingress.forwardAuth.uri";
  }
  {
    name = "throws: a forward-auth uri with a brace";
    throws = caddy (cfg // { forwardAuth = cfg.forwardAuth // { uri = "/{$HOME}"; }; });
    message = "hearth.ingress.forwardAuth.uri";
  }
  {
    name = "throws: forward auth without hearth.ingress.forwardAuth";
    throws = caddy (cfg // { forwardAuth = null; });
    message = "needs hearth.ingress.forwardAuth";
  }
  {
    name = "throws: traefik forward auth without hearth.ingress.forwardAuth";
    throws = r.traefik (args (cfg // { forwardAuth = null; }));
    message = "needs hearth.ingress.forwardAuth";
  }
  {
    name = "throws: an unknown auth type";
    throws = caddy (withSite { auth = { type = "oauth"; basicSecret = null; }; });
    message = "hearth.ingress.sites.0.auth.type";
  }
  {
    name = "throws: basic auth without a secret";
    throws = caddy (withSite { auth = { type = "basic"; basicSecret = null; }; });
    message = "hearth.ingress.sites.0.auth.basicSecret";
  }
  {
    name = "throws: basic auth without users";
    throws = caddy (withSite { auth = { type = "basic"; basicSecret = "s"; users = [ ]; }; });
    message = "hearth.ingress.sites.0.auth.users: basic auth needs at least one user";
  }
  {
    name = "throws: a basic-auth user name that would close the script's quote";
    throws = r.caddyBasicEnv {
      cfg = withSite { auth = { type = "basic"; basicSecret = "s"; users = [ "a'; rm -rf /; '" ]; }; };
      secretPath = n: "/run/agenix/${n}";
      out = "/run/x.env";
    };
    message = "hearth.ingress.sites.0.auth.users";
  }
  {
    name = "throws: two sites serving the same name";
    throws = caddy (cfg // { sites = [ (builtins.head cfg.sites) ((builtins.head cfg.sites) // { name = "grafana2"; }) ]; });
    message = "hearth.ingress.sites.0 and hearth.ingress.sites.1 both serve \"grafana.home.example.net\"";
  }
  {
    name = "throws: an environment file path with a quote";
    throws = r.caddyBasicEnv {
      inherit cfg;
      secretPath = n: "/run/agenix/${n}";
      out = "/run/x'.env";
    };
    message = "out";
  }
  {
    name = "throws: a secret path with a space";
    throws = r.caddyBasicEnv {
      inherit cfg;
      secretPath = n: "/run/agenix x/${n}";
      out = "/run/x.env";
    };
    message = "secretPath";
  }
  {
    name = "throws: an allow entry that is not a CIDR";
    throws = caddy (withSite { allow = [ "10.69.222.5 10.0.0.0/8" ]; });
    message = "hearth.ingress.sites.0.allow";
  }
  {
    name = "throws: a site naming an unknown certificate";
    throws = caddy (withSite { cert = "other"; });
    message = "names no entry of hearth.ingress.certificates";
  }
  {
    name = "throws: a certificate directory with a space";
    throws = r.caddyConfig { inherit cfg; certDir = n: "/var/lib/acme x/${n}"; };
    message = "is not an absolute path";
  }
  {
    name = "throws: an unknown tls mode";
    throws = caddy (withTls { mode = "selfsigned"; });
    message = "hearth.ingress.tls.mode";
  }
  {
    name = "throws: TLS 1.0";
    throws = caddy (withTls { minVersion = "1.0"; });
    message = "hearth.ingress.tls.minVersion";
  }
  {
    name = "throws: an unknown backend";
    throws = caddy (cfg // { backend = "nginx"; });
    message = "hearth.ingress.backend";
  }
  {
    name = "throws: a port out of range";
    throws = caddy (cfg // { httpsPort = 70000; });
    message = "hearth.ingress.httpsPort";
  }
  {
    name = "throws: a traefik site name with a slash";
    throws = r.traefik (args (withSite { name = "a/b"; }));
    message = "hearth.ingress.sites.0.name";
  }
  {
    name = "throws: an email with a newline";
    throws = r.legoArgs (cfg // { acme = cfg.acme // { email = "a@b.net\n--server=x"; }; }) "home.example.net";
    message = "hearth.ingress.acme.email";
  }
  {
    name = "throws: a non-wildcard certificate domain";
    throws = r.legoArgs (cfg // { certificates = [ ((builtins.head cfg.certificates) // { domain = "home.example.net"; }) ]; }) "home.example.net";
    message = "is not a wildcard name";
  }
  {
    name = "throws: lego for an unknown certificate";
    throws = r.legoArgs cfg "nope";
    message = "names no entry";
  }
  {
    name = "throws: an acme server with a space";
    throws = r.legoArgs (cfg // { acme = cfg.acme // { server = "https://x y"; }; }) "home.example.net";
    message = "hearth.ingress.acme.server";
  }
]
