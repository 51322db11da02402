# Renderer tests for modules/lib/nftables.nix (run by ./run, and by the
# flake's `checks.<system>.renderer-tests`). Every expected ruleset below was
# also loaded into a kernel with `nft -c -f` (checks/nft-check).
let
  lib = import ../../modules/lib;
  fx = import ./fixtures.nix;
  render = lib.allowlist.allowlistRuleset;
  gw = fx.minimalGateway.allowlist;
  withRules = rules: gw // { inherit rules; };
in
[
  {
    name = "example gateway: whole table";
    expr = render gw;
    expected = ''
      table inet hearth {
        counter forward_drop {
        }

        map src_class {
          type ipv4_addr : verdict
          flags interval
          elements = {
            10.69.222.10 : jump class_0,
            10.69.222.11 : jump class_1
          }
        }

        set allow_0 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.5 . tcp . 53 comment "dns",
            10.69.13.11 . tcp . 3000 comment "grafana",
            10.69.13.5 . udp . 53 comment "dns"
          }
        }

        chain class_0 {
          comment "sources: admins all"
          ip daddr . meta l4proto . th dport @allow_0 accept
        }

        set allow_1 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.5 . tcp . 53 comment "dns",
            10.69.13.5 . udp . 53 comment "dns"
          }
        }

        chain class_1 {
          comment "sources: all"
          ip daddr . meta l4proto . th dport @allow_1 accept
        }

        chain forward {
          type filter hook forward priority filter; policy drop;
          iifname != "hearth0" accept
          ct state established,related accept
          ct state invalid drop
          ip saddr vmap @src_class
          limit rate 10/minute log prefix "hearth-drop "
          counter name "forward_drop" drop
        }

        set ssh_sources {
          type ipv4_addr
          flags interval
          elements = {
            10.69.13.0/24,
            10.69.222.0/24
          }
        }

        set ssh_meter {
          type ipv4_addr
          size 65535
          flags dynamic,timeout
          timeout 10m
        }

        counter ssh_drop {
        }

        chain ssh_drop {
          limit rate 10/minute log prefix "hearth-drop "
          counter name "ssh_drop" drop
        }

        chain input {
          type filter hook input priority filter; policy accept;
          tcp dport 22 meta nfproto ipv6 goto ssh_drop
          tcp dport 22 ip saddr != @ssh_sources goto ssh_drop
          tcp dport 22 ct state new add @ssh_meter { ip saddr limit rate over 10/minute burst 5 packets } goto ssh_drop
        }
      }
    '';
  }
  {
    name = "content is the table body that NixOS wraps in table inet hearth";
    expr = "table inet hearth {\n" + builtins.concatStringsSep "\n" (map (l: if l == "" then "" else "  " + l) (builtins.filter builtins.isString (builtins.split "\n" (lib.allowlist.allowlistContent gw)))) + "}\n";
    expected = render gw;
  }
  {
    name = "hostile set and rule names only reach comments, sanitised";
    expr = render fx.hostileAllowlist;
    expected = ''
      table inet hearth {
        counter forward_drop {
        }

        map src_class {
          type ipv4_addr : verdict
          flags interval
          elements = {
            10.69.222.10 : jump class_0,
            10.69.222.11 : jump class_1
          }
        }

        set allow_0 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.11 . tcp . 443 comment "web accept "
          }
        }

        chain class_0 {
          comment "sources: x flush ruleset "
          ip daddr . meta l4proto . th dport @allow_0 accept
        }

        set allow_1 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.12 . udp . 5000-5010 comment "achain evil  "
          }
        }

        chain class_1 {
          comment "sources: evil"
          ip daddr . meta l4proto . th dport @allow_1 accept
        }

        chain forward {
          type filter hook forward priority filter; policy drop;
          iifname != "hearth0" accept
          ct state established,related accept
          ct state invalid drop
          ip saddr vmap @src_class
          counter name "forward_drop" drop
        }
      }
    '';
  }
  {
    name = "overlapping sources and destinations become disjoint elements";
    expr = render fx.overlapAllowlist;
    expected = ''
      table inet hearth {
        counter forward_drop {
        }

        map src_class {
          type ipv4_addr : verdict
          flags interval
          elements = {
            10.69.13.0-10.69.13.4 : jump class_0,
            10.69.13.5 : jump class_1,
            10.69.13.6-10.69.13.255 : jump class_0,
            10.69.222.10 : jump class_2
          }
        }

        set allow_0 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.0/24 . tcp . 1-1000 comment "low ports"
          }
        }

        chain class_0 {
          comment "sources: lan"
          ip daddr . meta l4proto . th dport @allow_0 accept
        }

        set allow_1 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.0-10.69.13.10 . tcp . 1-1000 comment "low ports",
            10.69.13.11 . tcp . 1-79 comment "low ports",
            10.69.13.11 . tcp . 80 comment "http low ports",
            10.69.13.11 . tcp . 81-1000 comment "low ports",
            10.69.13.11 . tcp . 8000-8100 comment "http",
            10.69.13.12-10.69.13.255 . tcp . 1-1000 comment "low ports"
          }
        }

        chain class_1 {
          comment "sources: admins lan"
          ip daddr . meta l4proto . th dport @allow_1 accept
        }

        set allow_2 {
          type ipv4_addr . inet_proto . inet_service
          flags interval
          elements = {
            10.69.13.11 . tcp . 80 comment "http",
            10.69.13.11 . tcp . 8000-8100 comment "http"
          }
        }

        chain class_2 {
          comment "sources: admins"
          ip daddr . meta l4proto . th dport @allow_2 accept
        }

        chain forward {
          type filter hook forward priority filter; policy drop;
          iifname != "wg-hearth" accept
          ct state established,related accept
          ct state invalid drop
          ip saddr vmap @src_class
          limit rate 5/second log prefix "hearth-drop "
          counter name "forward_drop" drop
        }

        set ssh_sources {
          type ipv4_addr
          flags interval
          elements = {
            10.69.13.0-10.69.14.255
          }
        }

        set ssh_meter {
          type ipv4_addr
          size 65535
          flags dynamic,timeout
          timeout 10m
        }

        counter ssh_drop {
        }

        chain ssh_drop {
          limit rate 5/second log prefix "hearth-drop "
          counter name "ssh_drop" drop
        }

        chain input {
          type filter hook input priority filter; policy accept;
          tcp dport 2222 meta nfproto ipv6 goto ssh_drop
          tcp dport 2222 ip saddr != @ssh_sources goto ssh_drop
          tcp dport 2222 ct state new add @ssh_meter { ip saddr limit rate over 3/minute burst 2 packets } goto ssh_drop
        }
      }
    '';
  }
  {
    name = "no rules: empty map, no classes, everything from the interface dropped";
    expr = lib.allowlist.allowlistContent (withRules [ ] // { ssh.enable = false; log.enable = false; });
    expected = ''
      counter forward_drop {
      }

      map src_class {
        type ipv4_addr : verdict
        flags interval
      }

      chain forward {
        type filter hook forward priority filter; policy drop;
        iifname != "hearth0" accept
        ct state established,related accept
        ct state invalid drop
        ip saddr vmap @src_class
        counter name "forward_drop" drop
      }
    '';
  }
  {
    name = "duplicate rules collapse into one element with both names";
    expr = builtins.filter (l: builtins.match ".*10.69.13.5 . udp . 53.*" l != null) (builtins.filter builtins.isString (builtins.split "\n" (render (withRules (gw.rules ++ [ { name = "dns2"; from = [ "family" ]; to = [ "10.69.13.5" ]; proto = [ "udp" ]; ports = [ "53" ]; } ])))));
    expected = [
      "      10.69.13.5 . udp . 53 comment \"dns\""
      "      10.69.13.5 . udp . 53 comment \"dns dns2\""
    ];
  }
  {
    name = "a source in no referenced set gets no class";
    expr = builtins.match ".*10\\.69\\.222\\.99.*" (render fx.overlapAllowlist);
    expected = null;
  }
  {
    name = "a peer in two groups with the same rules shares one class chain";
    expr = builtins.length (builtins.filter (l: builtins.match "  chain class_.*" l != null) (builtins.filter builtins.isString (builtins.split "\n" (render (gw // { sources = { a = [ "10.0.0.1" "10.0.0.2" "10.0.0.9" ]; b = [ "10.0.0.1" "10.0.0.2" ]; }; rules = [ { name = "r"; from = [ "a" "b" ]; to = [ "10.69.13.5" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]; })))));
    expected = 2;
  }
  # Invalid input must throw, never render.
  { name = "interface name with a quote"; throws = render (gw // { interface = "hearth0\" accept"; }); message = "is not an interface name"; }
  { name = "interface name longer than 15"; throws = render (gw // { interface = "hearth0123456789"; }); }
  { name = "source with nft syntax"; throws = render (gw // { sources = gw.sources // { admins = [ "10.69.222.10; flush ruleset" ]; }; }); message = "is not an IPv4 address or CIDR"; }
  { name = "unreferenced source set is validated too"; throws = render (gw // { sources = gw.sources // { spare = [ "10.0.0.300" ]; }; }); }
  { name = "octet above 255"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.256" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]); }
  { name = "leading zero octet"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.013.5" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]); }
  { name = "prefix above 32"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.0/33" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]); }
  { name = "CIDR with host bits"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.5/24" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]); message = "write the network address (10.69.13.0/24)"; }
  { name = "IPv6 destination (allowlist is IPv4)"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "fd00::1" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]); }
  { name = "port 0"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.5" ]; proto = [ "tcp" ]; ports = [ "0" ]; } ]); }
  { name = "port 65536"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.5" ]; proto = [ "tcp" ]; ports = [ "65536" ]; } ]); }
  { name = "reversed range"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.5" ]; proto = [ "tcp" ]; ports = [ "80-79" ]; } ]); message = "is not a port"; }
  { name = "port with a semicolon"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.5" ]; proto = [ "tcp" ]; ports = [ "80; drop" ]; } ]); }
  { name = "protocol icmp"; throws = render (withRules [ { name = "r"; from = [ "all" ]; to = [ "10.69.13.5" ]; proto = [ "icmp" ]; ports = [ "1" ]; } ]); message = "is not a protocol"; }
  { name = "rule from an unknown source set"; throws = render (withRules [ { name = "r"; from = [ "nobody" ]; to = [ "10.69.13.5" ]; proto = [ "tcp" ]; ports = [ "1" ]; } ]); message = "is not a source set"; }
  { name = "log rate with nft syntax"; throws = render (gw // { log = { enable = true; rate = "10/minute log prefix \"x\""; }; }); message = "is not a rate"; }
  { name = "ssh port out of range"; throws = render (gw // { ssh = gw.ssh // { port = 70000; }; }); }
  { name = "ssh source not an address"; throws = render (gw // { ssh = gw.ssh // { sources = [ "any" ]; }; }); }
]
