using System.CommandLine;
using System.Runtime.InteropServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Image;
using KmeshCompiler.Loader;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc counters [--pin-dir DIR] [--image IMAGE]</c>: the per-verdict and per-policy
/// counters of the loaded XDP programs ("which policy dropped my SYN"), and the connect-time load
/// balancer's outcomes, summed over CPUs.</summary>
public static class CountersCommand
{
    public const string DefaultPinDir = "/sys/fs/bpf/kmesh";

    private static readonly string[] VerdictNames =
        ["allowed by policy", "no allow policies", "explicitly denied", "allow policies exist, but none allowed", "dropped: evaluation error", "dropped: unparsable SYN"];
    private static readonly string[] VerdictKeys = ["allowedByPolicy", "noAllowPolicies", "explicitlyDenied", "noneAllowed", "error", "unparsed"];
    private static readonly string[] LbKeys = ["rewritten", "noEndpoint", "passthrough", "error"];

    [StructLayout(LayoutKind.Sequential)]
    private struct PolicyStats
    {
        public ulong Matched, Denied, DryRunMatched;
    }

    public static Command Create()
    {
        var pinDir = new Option<string>("--pin-dir") { Description = "bpffs directory holding the pinned maps.", DefaultValueFactory = _ => DefaultPinDir };
        var image = new Option<string?>("--image") { Description = "The loaded image, to print policy names instead of ids." };
        var format = new Option<string>("--format") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var all = new Option<bool>("--all") { Description = "List every policy of the image, counted or not." };
        var cmd = new Command("counters", "Per-policy (matched, denied, dry-run matched) and per-verdict counters of the loaded programs.") { pinDir, image, format, all };
        cmd.SetAction(parse => Run(parse, parse.GetValue(pinDir)!, parse.GetValue(image), parse.GetValue(format) == "json", parse.GetValue(all)));
        return cmd;
    }

    private sealed record Row(uint Id, string Name, ulong Matched, ulong Denied, ulong DryRunMatched);

    private static int Run(ParseResult parse, string dir, string? imagePath, bool json, bool all)
    {
        var io = Cli.Current(parse);
        if (!Directory.Exists(dir)) { io.Err.WriteLine($"kmeshc: error: --pin-dir {dir} does not exist: is an image loaded (kmeshc load)?"); return Cli.Usage; }
        if (BpfEnvironment.Unavailable() is { } why) { io.Err.WriteLine($"kmeshc: error: {why}"); return Cli.Usage; }
        ImageFile? img = null;
        if (imagePath is not null)
        {
            if (!File.Exists(imagePath)) { io.Err.WriteLine(Codes.PathNotFound.Create(new(imagePath, 0, 0), imagePath).ToString()); return Cli.Usage; }
            var bag = new DiagnosticBag();
            img = ImageReader.Read(imagePath, File.ReadAllBytes(imagePath), bag);
            foreach (var d in bag.Sorted()) io.Err.WriteLine(d.ToString());
            if (img is null) return Cli.Failed;
        }
        string? policyPin = Find(dir, "km_policy_stat"), verdictPin = Find(dir, "km_verdict_st"), lbPin = Find(dir, "km_lb_stats");
        if (policyPin is null && verdictPin is null && lbPin is null)
        {
            io.Err.WriteLine($"kmeshc: error: no pinned counters (km_policy_stat, km_verdict_st, km_lb_stats) under {dir}: is an image loaded (kmeshc load)?");
            return Cli.Usage;
        }
        ulong[] verdicts = new ulong[VerdictNames.Length], lb = new ulong[LbKeys.Length];
        var rows = new List<Row>();
        try
        {
            if (verdictPin is not null)
            {
                using var m = BpfMap.OpenPinned(verdictPin);
                for (uint i = 0; i < verdicts.Length; i++) verdicts[i] = PerCpu.Sum(m.LookupPerCpu<uint, ulong>(i));
            }
            if (lbPin is not null)
            {
                using var m = BpfMap.OpenPinned(lbPin);
                for (uint i = 0; i < lb.Length; i++) lb[i] = PerCpu.Sum(m.LookupPerCpu<uint, ulong>(i));
            }
            if (policyPin is not null)
            {
                using var m = BpfMap.OpenPinned(policyPin);
                var named = img?.Names.Where(n => n.Key.Kind == NameKind.Policy).ToDictionary(n => n.Key.Id, n => n.Value) ?? [];
                foreach (var (key, value) in m.Entries())
                {
                    uint id = BitConverter.ToUInt32(key);
                    ulong matched = 0, denied = 0, dry = 0;
                    int slot = (m.ValueSize + 7) & ~7;
                    for (int off = 0; off + m.ValueSize <= value.Length; off += slot)
                    {
                        var s = MemoryMarshal.Read<PolicyStats>(value.AsSpan(off, m.ValueSize));
                        matched += s.Matched; denied += s.Denied; dry += s.DryRunMatched;
                    }
                    bool counted = matched + denied + dry > 0;
                    if (counted || (all && named.ContainsKey(id)))
                        rows.Add(new Row(id, named.TryGetValue(id, out var n) ? n : $"policy#{id}", matched, denied, dry));
                }
            }
        }
        catch (BpfException e)
        {
            io.Err.WriteLine($"kmeshc: error: {e.Message}");
            return Cli.Usage;
        }
        rows.Sort((a, b) => b.Denied != a.Denied ? b.Denied.CompareTo(a.Denied) : b.Matched != a.Matched ? b.Matched.CompareTo(a.Matched) : string.CompareOrdinal(a.Name, b.Name));
        io.Out.Write(json ? Json(verdicts, rows, lb) : Text(verdicts, rows, lb, img is null));
        return Cli.Ok;
    }

    /// <summary>A pinned object of this name in the directory or one level below it.</summary>
    private static string? Find(string dir, string name)
    {
        string direct = Path.Combine(dir, name);
        if (File.Exists(direct)) return direct;
        foreach (var sub in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(sub, name))) return Path.Combine(sub, name);
        return null;
    }

    private static string Json(ulong[] verdicts, List<Row> rows, ulong[] lb) => Kmeshc.Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("verdicts");
        for (int i = 0; i < verdicts.Length; i++) w.WriteNumber(VerdictKeys[i], verdicts[i]);
        w.WriteEndObject();
        w.WriteStartArray("policies");
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteNumber("id", r.Id);
            w.WriteString("policy", r.Name);
            w.WriteNumber("matched", r.Matched);
            w.WriteNumber("denied", r.Denied);
            w.WriteNumber("dryRunMatched", r.DryRunMatched);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("loadBalancing");
        for (int i = 0; i < lb.Length; i++) w.WriteNumber(LbKeys[i], lb[i]);
        w.WriteEndObject();
        w.WriteEndObject();
    }) + "\n";

    private static string Text(ulong[] verdicts, List<Row> rows, ulong[] lb, bool noNames)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("verdicts (SYNs to local workloads):");
        for (int i = 0; i < verdicts.Length; i++) sb.AppendLine($"  {VerdictNames[i],-40} {verdicts[i],12}");
        sb.AppendLine();
        if (rows.Count == 0) sb.AppendLine("policies: none has matched yet");
        else
        {
            int width = Math.Max(6, rows.Max(r => r.Name.Length));
            sb.AppendLine($"  {"policy".PadRight(width)} {"matched",12} {"denied",12} {"dry-run",12}");
            foreach (var r in rows) sb.AppendLine($"  {r.Name.PadRight(width)} {r.Matched,12} {r.Denied,12} {r.DryRunMatched,12}");
            if (noNames) sb.AppendLine("(policy ids: pass --image IMAGE for names)");
        }
        sb.AppendLine();
        sb.AppendLine($"load balancing: {lb[0]} rewritten, {lb[1]} without endpoint (left unchanged), {lb[2]} passthrough, {lb[3]} errors");
        return sb.ToString();
    }
}
