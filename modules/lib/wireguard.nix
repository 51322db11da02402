# Renders a host's `hearth.wireguard` data (peers, AllowedIPs and endpoints
# already decided by the generator) for the two consumers that configure an
# interface: the NixOS module (`networking.wireguard.interfaces.<if>`) and
# the lab / `hearth preview` (`wg setconf` text). builtins only.
#
# Key material never passes through here: the NixOS module adds
# privateKeyFile / presharedKeyFile (agenix paths), the lab sets keys with
# `wg set` from decrypted secrets.
let
  h = import ./util/ipv4.nix;
  inherit (builtins)
    concatMap
    concatStringsSep
    elemAt
    genList
    isString
    length
    match
    ;

  # Everything below ends up in shell scripts of the nixpkgs wireguard module
  # (`wg set ... allowed-ips "..."`) or in wg(8) config text: check the
  # character set, not just the shape.
  checkAllowedIP =
    what: v:
    if isString v && match "[0-9a-fA-F:]*:[0-9a-fA-F:.]*(/[0-9]{1,3})?" v != null then
      v # IPv6 (full tunnel ::/0, or a client's v6 range): charset-checked only
    else
      let
        iv = h.parseCidr what v;
      in
      builtins.seq iv v;


  checkPeer =
    i: p:
    let
      what = "hearth.wireguard.peers.${toString i}";
    in
    {
      name = h.checkRule "${what}.name" "nodeName" p.name;
      publicKey = h.checkRule "${what}.publicKey" "wireguardKey" p.publicKey;
      allowedIPs = map (checkAllowedIP "${what}.allowedIPs") (h.checkList "${what}.allowedIPs" p.allowedIPs);
      endpoint =
        if p.endpoint == null then
          null
        else
          h.checkRule "${what}.endpoint" "endpoint" p.endpoint;
      persistentKeepalive =
        if p.persistentKeepalive == null then
          null
        else
          h.checkInt "${what}.persistentKeepalive" 1 65535 p.persistentKeepalive;
    };

  peersOf = cfg: genList (i: checkPeer i (elemAt cfg.peers i)) (length (h.checkList "hearth.wireguard.peers" cfg.peers));

  # -> attrs for networking.wireguard.interfaces.<cfg.interface>
  interface = cfg: {
    ips = map (
      a:
      builtins.seq (h.parseCidr "hearth.wireguard.addresses" a) a
    ) (h.checkList "hearth.wireguard.addresses" cfg.addresses);
    listenPort =
      if cfg.listenPort == null then null else h.checkInt "hearth.wireguard.listenPort" 1 65535 cfg.listenPort;
    mtu = if cfg.mtu == null then null else h.checkInt "hearth.wireguard.mtu" 1280 65535 cfg.mtu;
    peers = peersOf cfg;
  };

  # -> text for `wg setconf <if>` (no PrivateKey, no PresharedKey).
  setconf =
    cfg:
    let
      i = interface cfg;
    in
    concatStringsSep "\n" (
      [ "[Interface]" ]
      ++ (if i.listenPort == null then [ ] else [ "ListenPort = ${toString i.listenPort}" ])
      ++ concatMap (
        p:
        [
          ""
          "[Peer]"
          "# ${h.sanitize p.name}"
          "PublicKey = ${p.publicKey}"
        ]
        ++ (if p.allowedIPs == [ ] then [ ] else [ "AllowedIPs = ${concatStringsSep ", " p.allowedIPs}" ])
        ++ (if p.endpoint == null then [ ] else [ "Endpoint = ${p.endpoint}" ])
        ++ (
          if p.persistentKeepalive == null then
            [ ]
          else
            [ "PersistentKeepalive = ${toString p.persistentKeepalive}" ]
        )
      ) i.peers
    )
    + "\n";

  # -> body of `table ip hearth-nat`: masquerade VPN sources going to the
  # LAN, so LAN hosts need no route back to the VPN pool. "" when off.
  natTable =
    cfg:
    let
      m = cfg.masquerade;
      iface = h.checkIfName "hearth.wireguard.interface" cfg.interface;
      set =
        what: l:
        if h.checkList what l == [ ] then
          throw "hearth: ${what}: must not be empty when masquerading"
        else
          "{ ${concatStringsSep ", " (h.addressUnion what l)} }";
      # LAN hosts that must see VPN clients' own addresses (an ingress
      # enforcing per-client policy): never masqueraded towards.
      exceptL = h.checkList "hearth.wireguard.masquerade.except" (m.except or [ ]);
      except =
        if exceptL == [ ] then
          ""
        else
          " ip daddr != { ${concatStringsSep ", " (h.addressUnion "hearth.wireguard.masquerade.except" exceptL)} }";
    in
    if !(cfg.forwarding && m.enable) then
      ""
    else
      concatStringsSep "\n" [
        "chain postrouting {"
        "  type nat hook postrouting priority srcnat; policy accept;"
        "  oifname != \"${iface}\" ip saddr ${set "hearth.wireguard.masquerade.sources" m.sources} ip daddr ${set "hearth.wireguard.masquerade.destinations" m.destinations}${except} masquerade"
        "}"
      ]
      + "\n";
in
{
  inherit interface setconf natTable;
}
