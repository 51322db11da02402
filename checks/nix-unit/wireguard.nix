# Renderer tests for modules/lib/wireguard.nix.
let
  lib = import ../../modules/lib;
  fx = import ./fixtures.nix;
  gw = fx.minimalGateway.wireguard;
  key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
  hub = {
    enable = true;
    interface = "hearth0";
    role = "hub";
    addresses = [ "10.69.222.1/32" ];
    listenPort = 51821;
    mtu = 1420;
    privateKeySecret = "hearth-wireguard-key";
    forwarding = true;
    masquerade = {
      enable = false;
      sources = [ ];
      destinations = [ ];
    };
    peers = [
      {
        name = "extgw01";
        publicKey = key;
        allowedIPs = [
          "10.69.222.2/32"
          "10.69.13.0/24"
        ];
        endpoint = null;
        persistentKeepalive = null;
        presharedKeySecret = "hearth-wireguard-psk-extgw01";
      }
      {
        name = "phone";
        publicKey = key;
        allowedIPs = [ "10.69.222.11/32" ];
        endpoint = null;
        persistentKeepalive = null;
        presharedKeySecret = null;
      }
    ];
  };
  peer0 = gw.peers;
  withPeer = p: gw // { peers = [ ((builtins.head gw.peers) // p) ]; };
in
[
  {
    name = "example gateway: interface attrs";
    expr = lib.wireguard.interface gw;
    expected = {
      ips = [ "10.69.222.2/32" ];
      listenPort = null;
      mtu = 1420;
      peers = [
        {
          name = "vps";
          publicKey = "zxfp8tWAQauDIsSM+QGmCI7QqJKcXanzdF903FjT5Dg=";
          allowedIPs = [ "10.69.222.0/24" ];
          endpoint = "vps.2rjus.net:51821";
          persistentKeepalive = 25;
        }
      ];
    };
  }
  {
    name = "example gateway: wg setconf text";
    expr = lib.wireguard.setconf gw;
    expected = ''
      [Interface]

      [Peer]
      # vps
      PublicKey = zxfp8tWAQauDIsSM+QGmCI7QqJKcXanzdF903FjT5Dg=
      AllowedIPs = 10.69.222.0/24
      Endpoint = vps.2rjus.net:51821
      PersistentKeepalive = 25
    '';
  }
  {
    name = "example gateway: masquerade table";
    expr = lib.wireguard.natTable gw;
    expected = ''
      chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname != "hearth0" ip saddr { 10.69.222.0/24 } ip daddr { 10.69.13.0/24 } masquerade
      }
    '';
  }
  {
    name = "masquerade: no masquerade towards an ingress (it sees the client's address)";
    expr = lib.wireguard.natTable (gw // { masquerade = gw.masquerade // { except = [ "10.69.13.10" "10.69.13.11/32" ]; }; });
    expected = ''
      chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname != "hearth0" ip saddr { 10.69.222.0/24 } ip daddr { 10.69.13.0/24 } ip daddr != { 10.69.13.10/31 } masquerade
      }
    '';
  }
  {
    name = "masquerade: an except entry that is not an address";
    throws = lib.wireguard.natTable (gw // { masquerade = gw.masquerade // { except = [ "10.69.13.10 } accept" ]; }; });
    message = "hearth.wireguard.masquerade.except";
  }
  {
    name = "hub: listen port, two peers, no endpoint or keepalive lines";
    expr = lib.wireguard.setconf hub;
    expected = ''
      [Interface]
      ListenPort = 51821

      [Peer]
      # extgw01
      PublicKey = ${key}
      AllowedIPs = 10.69.222.2/32, 10.69.13.0/24

      [Peer]
      # phone
      PublicKey = ${key}
      AllowedIPs = 10.69.222.11/32
    '';
  }
  {
    name = "hub: no masquerade table";
    expr = lib.wireguard.natTable hub;
    expected = "";
  }
  {
    name = "masquerade needs forwarding";
    expr = lib.wireguard.natTable (gw // { forwarding = false; });
    expected = "";
  }
  {
    name = "overlapping masquerade sources are merged (kernel rejects overlaps)";
    expr = lib.wireguard.natTable (gw // { masquerade = gw.masquerade // { sources = [ "10.69.222.0/24" "10.69.222.10" ]; }; });
    expected = lib.wireguard.natTable gw;
  }
  {
    name = "full-tunnel client accepts 0.0.0.0/0 and ::/0";
    expr = (builtins.head (lib.wireguard.interface (withPeer { allowedIPs = [ "0.0.0.0/0" "::/0" ]; })).peers).allowedIPs;
    expected = [ "0.0.0.0/0" "::/0" ];
  }
  {
    name = "IPv6 endpoint";
    expr = (builtins.head (lib.wireguard.interface (withPeer { endpoint = "[2001:db8::1]:51820"; })).peers).endpoint;
    expected = "[2001:db8::1]:51820";
  }
  {
    name = "no key material in the renderer output";
    expr = builtins.attrNames (builtins.head (lib.wireguard.interface hub).peers);
    expected = [ "allowedIPs" "endpoint" "name" "persistentKeepalive" "publicKey" ];
  }
  { name = "peer name with a newline (would start a new wg config line)"; throws = lib.wireguard.setconf (withPeer { name = "vps\nPrivateKey = x"; }); message = "is not a peer name"; }
  { name = "peer name with a slash (systemd unit name)"; throws = lib.wireguard.interface (withPeer { name = "a/b"; }); }
  { name = "public key with a quote (nixpkgs puts it in a shell script)"; throws = lib.wireguard.interface (withPeer { publicKey = "abc\"; rm -rf /; \""; }); message = "is not a base64 WireGuard key"; }
  { name = "allowedIP with shell syntax"; throws = lib.wireguard.interface (withPeer { allowedIPs = [ "10.0.0.0/24\" $(reboot) \"" ]; }); }
  { name = "allowedIP with host bits"; throws = lib.wireguard.interface (withPeer { allowedIPs = [ "10.69.222.5/24" ]; }); }
  { name = "endpoint with \${ and no port"; throws = lib.wireguard.interface (withPeer { endpoint = "\${HOME}"; }); message = "is not an endpoint HOST:PORT"; }
  { name = "keepalive 0"; throws = lib.wireguard.interface (withPeer { persistentKeepalive = 0; }); }
  { name = "address not a CIDR"; throws = lib.wireguard.interface (gw // { addresses = [ "hearth" ]; }); }
  { name = "listen port 0"; throws = lib.wireguard.setconf (gw // { listenPort = 0; }); }
  { name = "mtu too small"; throws = lib.wireguard.interface (gw // { mtu = 500; }); }
  { name = "masquerade with no destinations"; throws = lib.wireguard.natTable (gw // { masquerade = gw.masquerade // { destinations = [ ]; }; }); message = "must not be empty"; }
  { name = "interface name injection in the nat table"; throws = lib.wireguard.natTable (gw // { interface = "x\" masquerade"; }); }
]
