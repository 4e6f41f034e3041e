using System.CommandLine;
using System.Text;
using System.Text.Json;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc validate</c>: CI policy validation (cli.md). Every diagnostic of every input,
/// sorted by file, line and column, in one of four formats; exit 1 on errors (or warnings with
/// <c>--fail-on warning</c>), 2 when an input cannot be read.</summary>
public static class ValidateCommand
{
    public static Command Create()
    {
        var inputs = Cli.Inputs();
        var format = new Option<string>("--format")
        {
            Description = "Output format: text (path:line:column: severity CODE: message), json, sarif (SARIF 2.1.0 for code scanning), github (workflow annotations) or junit (JUnit XML: one test suite per file).",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json", "sarif", "github", "junit");
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Lowest severity that makes the command exit 1: error (default) or warning.",
            DefaultValueFactory = _ => "error",
        };
        failOn.AcceptOnlyFromAmong("error", "warning");
        var minSeverity = new Option<string?>("--min-severity")
        {
            Description = "Lowest severity to report: error, warning or info. Default: info, except warning for --format github (infos are not annotated unless asked).",
        };
        minSeverity.AcceptOnlyFromAmong("error", "warning", "info");
        var suppress = new Option<string[]>("--suppress")
        {
            Description = "Suppress a warning or info: CODE, or CODE=NAMESPACE/NAME for one object ('*' matches any characters). Repeatable. Objects can carry the annotation kmesh.io/suppress: \"KM4013,KM4020\". Errors cannot be suppressed; suppressed findings are counted in the summary.",
            Arity = ArgumentArity.ZeroOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        suppress.Validators.Add(result =>
        {
            foreach (var t in result.Tokens)
                if (Suppression.Parse(t.Value) is null) result.AddError($"--suppress '{t.Value}' is not CODE or CODE=NAMESPACE/NAME (for example KM4013 or KM4013=shop/legacy-*)");
        });

        var cmd = new Command("validate", "Validate Kubernetes and Istio resources for CI, reporting every problem with its file, line and column, then a summary line. Exit 0 valid, 1 errors (or warnings with --fail-on warning), 2 unreadable input.")
        {
            inputs, format, failOn, minSeverity, suppress, Cli.Color,
        };
        Cli.AddInputOptions(cmd);
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            string fmt = parse.GetValue(format) ?? "text";
            var res = InputLoader.Load(parse.GetValue(inputs) ?? [], Cli.Settings(parse));
            var rules = res.Diagnostics.Suppressions.Concat((parse.GetValue(suppress) ?? []).Select(x => Suppression.Parse(x)!)).ToList();
            var all = Suppression.Apply(res.Diagnostics.Sorted(), rules, out int suppressed);
            var min = (parse.GetValue(minSeverity) ?? (fmt == "github" ? "warning" : "info")) switch
            {
                "error" => KmeshCompiler.Diagnostics.Severity.Error,
                "warning" => KmeshCompiler.Diagnostics.Severity.Warning,
                _ => KmeshCompiler.Diagnostics.Severity.Info,
            };
            var diags = all.Where(d => d.Severity >= min).ToList();
            var summary = new Summary(res.FileNames.Count, res.Diagnostics.ObjectsRead,
                Count(all, KmeshCompiler.Diagnostics.Severity.Error), Count(all, KmeshCompiler.Diagnostics.Severity.Warning),
                Count(all, KmeshCompiler.Diagnostics.Severity.Info), suppressed);
            bool failWarnings = parse.GetValue(failOn) == "warning";
            string text = fmt switch
            {
                "json" => Json(diags, summary),
                "sarif" => Sarif(diags),
                "github" => Github(diags),
                "junit" => Junit(diags, res.FileNames, failWarnings),
                _ => Text(diags, Cli.UseColor(parse, io.Out)),
            };
            io.Out.Write(text);
            if (fmt is "text" or "github") io.Err.WriteLine(summary.Line());
            if (res.EnvironmentError) return Cli.Usage;
            return summary.Errors > 0 || (failWarnings && summary.Warnings > 0) ? Cli.Failed : Cli.Ok;
        });
        return cmd;
    }

    private static int Count(IEnumerable<Diagnostic> ds, Severity s) => ds.Count(d => d.Severity == s);

    /// <summary>What a run found, for the closing line and the JSON summary. Counts are before
    /// --min-severity (which only hides) and after suppression.</summary>
    public sealed record Summary(int Files, int Objects, int Errors, int Warnings, int Infos, int Suppressed)
    {
        public string Line() =>
            $"kmeshc: {(Errors == 0 && Warnings == 0 ? "ok: " : "")}{Plural(Files, "file")}, {Plural(Objects, "object")}: " +
            $"{Plural(Errors, "error")}, {Plural(Warnings, "warning")}, {Plural(Infos, "info")}, {Suppressed} suppressed";
    }

    private static string Plural(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";

    private static string SeverityName(Diagnostic d) => d.Severity.ToString().ToLowerInvariant();

    public static string Text(IReadOnlyList<Diagnostic> diags, bool colour = false)
    {
        var sb = new StringBuilder();
        foreach (var d in diags)
        {
            if (!colour) { sb.Append(d).Append('\n'); continue; }
            string c = d.Severity switch { KmeshCompiler.Diagnostics.Severity.Error => "\e[31m", KmeshCompiler.Diagnostics.Severity.Warning => "\e[33m", _ => "\e[36m" };
            string where = d.Location.IsKnown ? d.Location.ToString() : "<input>";
            sb.Append($"\e[1m{where}:\e[0m {c}{SeverityName(d)} {d.Code}:\e[0m {d.Message}\n");
        }
        return sb.ToString();
    }

    public static string Json(IReadOnlyList<Diagnostic> diags, Summary? summary = null)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("diagnostics");
            foreach (var d in diags)
            {
                w.WriteStartObject();
                w.WriteString("code", d.Code);
                w.WriteString("severity", SeverityName(d));
                w.WriteString("file", d.Location.File);
                w.WriteNumber("line", d.Location.Line);
                w.WriteNumber("column", d.Location.Column);
                w.WriteString("message", d.Message);
                if (d.Object is null) w.WriteNull("object"); else w.WriteString("object", d.Object);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("summary");
            w.WriteNumber("errors", summary?.Errors ?? Count(diags, KmeshCompiler.Diagnostics.Severity.Error));
            w.WriteNumber("warnings", summary?.Warnings ?? Count(diags, KmeshCompiler.Diagnostics.Severity.Warning));
            w.WriteNumber("infos", summary?.Infos ?? Count(diags, KmeshCompiler.Diagnostics.Severity.Info));
            if (summary is not null)
            {
                w.WriteNumber("suppressed", summary.Suppressed);
                w.WriteNumber("files", summary.Files);
                w.WriteNumber("objects", summary.Objects);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n") + "\n";
    }

    /// <summary>The base id of relative artifact locations: the directory kmeshc ran in (the checkout).</summary>
    public const string SrcRoot = "%SRCROOT%";

    /// <summary>SARIF 2.1.0: one run, one rule per code that occurs (with its documentation, help in
    /// markdown and a helpUri to its entry in docs/diagnostics.md), one result per diagnostic, relative
    /// paths against <see cref="SrcRoot"/>. tests/sarif holds the schema a test validates against.</summary>
    public static string Sarif(IReadOnlyList<Diagnostic> diags)
    {
        var rules = diags.Select(d => d.Descriptor).DistinctBy(d => d.Code).OrderBy(d => d.Code, StringComparer.Ordinal).ToList();
        var ruleIndex = rules.Select((r, i) => (r.Code, i)).ToDictionary(x => x.Code, x => x.i);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            SarifOpen(w, "kmeshc");
            foreach (var r in rules)
            {
                w.WriteStartObject();
                w.WriteString("id", r.Code);
                w.WriteString("name", Catalogue.NameOf(r));
                w.WriteStartObject("shortDescription");
                w.WriteString("text", Catalogue.Template(r));
                w.WriteEndObject();
                w.WriteStartObject("fullDescription");
                w.WriteString("text", DiagnosticDocs.Text(r).TrimEnd());
                w.WriteEndObject();
                w.WriteString("helpUri", DiagnosticDocs.HelpUri(r.Code));
                w.WriteStartObject("help");
                w.WriteString("text", DiagnosticDocs.Text(r).TrimEnd());
                w.WriteString("markdown", DiagnosticDocs.Markdown(r));
                w.WriteEndObject();
                w.WriteStartObject("defaultConfiguration");
                w.WriteString("level", Level(r.Severity));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("originalUriBaseIds");
            w.WriteStartObject(SrcRoot);
            w.WriteStartObject("description");
            w.WriteString("text", "The directory kmeshc ran in (the repository checkout).");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartArray("results");
            foreach (var d in diags)
            {
                w.WriteStartObject();
                w.WriteString("ruleId", d.Code);
                w.WriteNumber("ruleIndex", ruleIndex[d.Code]);
                w.WriteString("level", Level(d.Severity));
                w.WriteStartObject("message");
                w.WriteString("text", d.Object is null ? d.Message : $"{d.Object}: {d.Message}");
                w.WriteEndObject();
                if (d.Location.IsKnown)
                {
                    w.WriteStartArray("locations");
                    SarifLocation(w, d.Location);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            SarifClose(w);
        }
        return Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n") + "\n";
    }

    /// <summary>Opens a SARIF 2.1.0 log with one run of the named tool, up to its open "rules" array.</summary>
    public static void SarifOpen(Utf8JsonWriter w, string toolName)
    {
        w.WriteStartObject();
        w.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
        w.WriteString("version", "2.1.0");
        w.WriteStartArray("runs");
        w.WriteStartObject();
        w.WriteStartObject("tool");
        w.WriteStartObject("driver");
        w.WriteString("name", toolName);
        w.WriteString("version", typeof(ValidateCommand).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        w.WriteString("informationUri", "https://github.com/kmesh-net/kmesh");
        w.WriteStartArray("rules");
    }

    /// <summary>Closes what <see cref="SarifOpen"/> opened, after the caller's "results" array.</summary>
    public static void SarifClose(Utf8JsonWriter w)
    {
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>One SARIF location object: the file (relative paths against <see cref="SrcRoot"/>) and,
    /// when known, the line and column.</summary>
    public static void SarifLocation(Utf8JsonWriter w, KmeshCompiler.Ir.SourceLocation loc)
    {
        w.WriteStartObject();
        w.WriteStartObject("physicalLocation");
        w.WriteStartObject("artifactLocation");
        var (uri, relative) = Uri(loc.File);
        w.WriteString("uri", uri);
        if (relative) w.WriteString("uriBaseId", SrcRoot);
        w.WriteEndObject();
        if (loc.Line > 0)
        {
            w.WriteStartObject("region");
            w.WriteNumber("startLine", loc.Line);
            if (loc.Column > 0) w.WriteNumber("startColumn", loc.Column);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string Level(Severity s) => s switch
    {
        KmeshCompiler.Diagnostics.Severity.Error => "error",
        KmeshCompiler.Diagnostics.Severity.Warning => "warning",
        _ => "note",
    };

    /// <summary>Relative paths stay relative to <see cref="SrcRoot"/> (code scanning resolves them against
    /// the checkout); absolute paths become file: URIs.</summary>
    private static (string Uri, bool Relative) Uri(string file)
    {
        string f = file.Replace('\\', '/');
        if (f is "<stdin>" or "-") return ("stdin", true);
        if (f.StartsWith("./", StringComparison.Ordinal)) f = f[2..];
        string escaped = string.Join('/', f.Split('/').Select(System.Uri.EscapeDataString));
        return Path.IsPathRooted(file) ? ("file://" + (escaped.StartsWith('/') ? "" : "/") + escaped, false) : (escaped, true);
    }

    /// <summary>JUnit XML for CI systems: one test suite per input file, one test case per finding (a
    /// failure when it fails the run: errors, and warnings with --fail-on warning), and one passing
    /// case "valid" for a file without findings.</summary>
    public static string Junit(IReadOnlyList<Diagnostic> diags, IReadOnlyList<string> files, bool failWarnings)
    {
        var byFile = diags.GroupBy(d => d.Location.IsKnown ? d.Location.File : "<input>").ToDictionary(g => g.Key, g => g.ToList());
        var names = files.Concat(byFile.Keys).Distinct().OrderBy(f => f, StringComparer.Ordinal).ToList();
        bool Fails(Diagnostic d) => d.Severity == KmeshCompiler.Diagnostics.Severity.Error || (failWarnings && d.Severity == KmeshCompiler.Diagnostics.Severity.Warning);
        var sb = new StringBuilder();
        var settings = new System.Xml.XmlWriterSettings { Indent = true, OmitXmlDeclaration = false, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using (var sw = new StringWriter(sb))
        using (var x = System.Xml.XmlWriter.Create(sw, settings))
        {
            x.WriteStartElement("testsuites");
            x.WriteAttributeString("name", "kmeshc validate");
            x.WriteAttributeString("tests", names.Sum(f => Math.Max(1, byFile.GetValueOrDefault(f)?.Count ?? 0)).ToString(System.Globalization.CultureInfo.InvariantCulture));
            x.WriteAttributeString("failures", diags.Count(Fails).ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var f in names)
            {
                var ds = byFile.GetValueOrDefault(f) ?? [];
                x.WriteStartElement("testsuite");
                x.WriteAttributeString("name", f);
                x.WriteAttributeString("tests", Math.Max(1, ds.Count).ToString(System.Globalization.CultureInfo.InvariantCulture));
                x.WriteAttributeString("failures", ds.Count(Fails).ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (ds.Count == 0)
                {
                    x.WriteStartElement("testcase");
                    x.WriteAttributeString("name", "valid");
                    x.WriteAttributeString("classname", f);
                    x.WriteEndElement();
                }
                foreach (var d in ds)
                {
                    x.WriteStartElement("testcase");
                    x.WriteAttributeString("name", $"{d.Code} {d.Location.Line}:{d.Location.Column}{(d.Object is null ? "" : " " + d.Object)}");
                    x.WriteAttributeString("classname", f);
                    if (Fails(d))
                    {
                        x.WriteStartElement("failure");
                        x.WriteAttributeString("type", d.Code);
                        x.WriteAttributeString("message", d.Message);
                        x.WriteString(d.ToString());
                        x.WriteEndElement();
                    }
                    else x.WriteElementString("system-out", d.ToString());
                    x.WriteEndElement();
                }
                x.WriteEndElement();
            }
            x.WriteEndElement();
        }
        return sb.ToString().Replace("utf-16", "utf-8") + "\n";
    }

    /// <summary>GitHub workflow commands: ::error file=F,line=L,col=C::CODE: message.</summary>
    public static string Github(IReadOnlyList<Diagnostic> diags)
    {
        var sb = new StringBuilder();
        foreach (var d in diags)
        {
            string cmd = d.Severity switch { KmeshCompiler.Diagnostics.Severity.Error => "error", KmeshCompiler.Diagnostics.Severity.Warning => "warning", _ => "notice" };
            sb.Append("::").Append(cmd);
            if (d.Location.IsKnown)
            {
                sb.Append(" file=").Append(EscapeProperty(d.Location.File));
                if (d.Location.Line > 0) sb.Append(",line=").Append(d.Location.Line).Append(",col=").Append(d.Location.Column);
            }
            sb.Append("::").Append(EscapeData($"{d.Code}: {d.Message}")).Append('\n');
        }
        return sb.ToString();
    }

    internal static string EscapeData(string s) => s.Replace("%", "%25").Replace("\r", "%0D").Replace("\n", "%0A");

    internal static string EscapeProperty(string s) => EscapeData(s).Replace(":", "%3A").Replace(",", "%2C");
}
