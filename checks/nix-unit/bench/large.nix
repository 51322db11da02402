# A large allowlist for checks/nix-unit/nft-check and performance notes:
# `peers` VPN peers (default 1,000) in `groups` groups (default 20), every
# peer also in "all", and `rules` rules (default 10,000), each from one group
# to one LAN host and port, plus one DNS rule for "all".
{
  peers ? 1000,
  groups ? 20,
  rules ? 10000,
}:
let
  inherit (builtins) genList listToAttrs toString;
  mod = a: b: a - (a / b) * b;
  addr = base: i: "${base}.${toString (i / 250)}.${toString (mod i 250 + 1)}";
  peerAddr = addr "10.70";
in
{
  interface = "hearth0";
  sources =
    listToAttrs (
      genList (g: {
        name = "group${toString g}";
        value = genList (k: peerAddr (k * groups + g)) (peers / groups);
      }) groups
    )
    // {
      all = genList peerAddr peers;
    };
  rules =
    genList (i: {
      name = "service${toString i}";
      from = [ "group${toString (mod i groups)}" ];
      to = [ (addr "10.80" (i / 2)) ];
      proto = [ (if mod i 2 == 0 then "tcp" else "udp") ];
      ports = [ (toString (1000 + mod i 7)) ];
    }) rules
    ++ [
      {
        name = "dns";
        from = [ "all" ];
        to = [ "10.69.13.5" ];
        proto = [
          "tcp"
          "udp"
        ];
        ports = [ "53" ];
      }
    ];
  log = {
    enable = true;
    rate = "10/minute";
  };
  ssh = {
    enable = true;
    port = 22;
    sources = [
      "10.70.0.0/16"
      "10.69.13.0/24"
    ];
    rate = "10/minute";
    burst = 5;
  };
}
