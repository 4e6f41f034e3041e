using System.Globalization;
using System.Text;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>The spellings the binder reads and the printer writes, in one place so they cannot drift.</summary>
internal static class KplNames
{
    public static readonly string[] Keywords =
    [
        "namespace", "node", "workload", "service", "policy", "rule", "clause", "match", "world", "expect",
        "connection", "lb", "from", "to", "port", "identity", "plaintext", "allowed", "denied", "by", "reaches", "nothing",
    ];

    private static readonly HashSet<string> KeywordSet = new(Keywords, StringComparer.Ordinal);

    public static bool IsWordChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '.' or ':' or '/' or '*' or '@' or '+' or '-' or '=' or '>' or '~';

    /// <summary>A value as it must be written: bare when it lexes as one word that is not a keyword,
    /// else quoted with escapes.</summary>
    public static string Quote(string s)
    {
        bool bare = s.Length > 0 && !KeywordSet.Contains(s);
        if (bare)
            foreach (var c in s)
                if (!IsWordChar(c)) { bare = false; break; }
        if (bare) return s;
        var sb = new StringBuilder(s.Length + 2).Append('"');
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    bool pair = char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]);
                    if (pair) { sb.Append(c).Append(s[++i]); break; }
                    if (char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029' or '\uFEFF')
                        sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    public static string Action(PolicyAction a) => a == PolicyAction.Deny ? "deny" : "allow";

    public static string Scope(PolicyScope s) => s switch
    {
        PolicyScope.Global => "global",
        PolicyScope.Namespace => "namespace",
        _ => "selector",
    };

    public static readonly (string Name, PolicyScope Value)[] Scopes =
        [("global", PolicyScope.Global), ("namespace", PolicyScope.Namespace), ("selector", PolicyScope.WorkloadSelector)];

    public static readonly (string Name, AppProtocol Value)[] Protocols =
        [("http", AppProtocol.Http11), ("http2", AppProtocol.Http2), ("grpc", AppProtocol.Grpc), ("tcp", AppProtocol.Tcp), ("tls", AppProtocol.Tls), ("unknown", AppProtocol.Unknown)];

    public static readonly (string Name, LbMode Value)[] Modes =
        [("unspecified", LbMode.Unspecified), ("strict", LbMode.Strict), ("failover", LbMode.Failover), ("passthrough", LbMode.Passthrough)];

    public static readonly (string Name, LbScope Value)[] LbScopes =
        [("region", LbScope.Region), ("zone", LbScope.Zone), ("subzone", LbScope.Subzone), ("node", LbScope.Node), ("cluster", LbScope.Cluster), ("network", LbScope.Network), ("unspecified", LbScope.Unspecified)];

    public static readonly (string Name, HealthPolicy Value)[] HealthPolicies =
        [("only-healthy", HealthPolicy.OnlyHealthy), ("allow-all", HealthPolicy.AllowAll)];

    public static readonly (string Name, WorkloadHealth Value)[] Healths =
        [("healthy", WorkloadHealth.Healthy), ("unhealthy", WorkloadHealth.Unhealthy)];

    public static string Name<T>((string Name, T Value)[] table, T v) where T : struct, Enum
    {
        foreach (var (n, x) in table) if (EqualityComparer<T>.Default.Equals(x, v)) return n;
        return Convert.ToInt32(v, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
    }

    public static bool TryValue<T>((string Name, T Value)[] table, string s, out T v) where T : struct
    {
        foreach (var (n, x) in table) if (n == s) { v = x; return true; }
        v = default;
        return false;
    }

    public static readonly (string Name, NetworkMode Value)[] NetworkModes =
        [("standard", NetworkMode.Standard), ("host-network", NetworkMode.HostNetwork)];

    public static readonly (string Name, bool Value)[] YesNo = [("yes", true), ("no", false)];

    /// <summary>The uid a workload gets when the file does not say, as istiod names pods (and, for a
    /// pod template, the same form with its kind).</summary>
    public static string DefaultUid(string clusterId, string ns, string name, string kind = Workload.PodKind) => $"{clusterId}//{kind}/{ns}/{name}";

    public static string DefaultHostname(string ns, string name) => $"{name}.{ns}.svc.cluster.local";

    public static string Port(ServicePort p)
    {
        var s = p.Port.ToString(CultureInfo.InvariantCulture);
        if (p.TargetPort != p.Port) s += "->" + p.TargetPort.ToString(CultureInfo.InvariantCulture);
        if (p.AppProtocol != AppProtocol.Unknown) s += "/" + Name(Protocols, p.AppProtocol);
        return s;
    }

    public static string Prefix(IpPrefix p) => p.Length == p.Address.Bits ? p.Address.ToString() : p.ToString();

    public static string Address(NetworkAddress a) => a.Network.Length == 0 ? a.Address.ToString() : $"{a.Address}@{a.Network}";

    /// <summary>Istio's spelling when it reads back as the same match, else the explicit form.</summary>
    public static string StringMatch(StringMatch m)
    {
        string istio = m.ToString();
        var back = ParseIstio(istio);
        if (back == m) return Quote(istio);
        string fn = m.Kind switch
        {
            StringMatchKind.Exact => "exact",
            StringMatchKind.Prefix => "prefix",
            StringMatchKind.Suffix => "suffix",
            _ => "presence",
        };
        return $"{fn}({Quote(m.Value)})";
    }

    /// <summary>semantics.md §2: "*" presence; leading "*" suffix of the rest; else trailing "*"
    /// prefix; else exact. Only one star is stripped.</summary>
    public static StringMatch ParseIstio(string s)
    {
        if (s == "*") return new StringMatch(StringMatchKind.Presence, "");
        if (s.StartsWith('*')) return new StringMatch(StringMatchKind.Suffix, s[1..]);
        if (s.EndsWith('*')) return new StringMatch(StringMatchKind.Prefix, s[..^1]);
        return new StringMatch(StringMatchKind.Exact, s);
    }

    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    public static string? Nearest(string s, IEnumerable<string> candidates)
    {
        if (s.Length > 64) return null;
        string? best = null;
        int bestD = int.MaxValue;
        foreach (var c in candidates)
        {
            int d = Distance(s.Replace('_', '-').ToLowerInvariant(), c);
            if (d < bestD) { bestD = d; best = c; }
        }
        return bestD <= Math.Max(2, s.Length / 3) ? best : null;
    }
}
