using System.Text.Json;
using KmeshCompiler.Serve;
using KmeshCompiler.Tests.Support;
using Microsoft.Extensions.Logging;

namespace KmeshCompiler.Tests.Serve;

/// <summary>`kmeshc serve`'s arguments (usage errors exit 2 with one clear line, before anything
/// runs), its log line format and its address syntax.</summary>
public sealed class ServeCliTests
{
    [Theory]
    [InlineData(new[] { "--node", "n1" }, "give one source: --xds URL or --from DIR-or-FILE")]
    [InlineData(new[] { "--node", "n1", "--from", "examples/bookinfo", "--xds", "https://istiod.istio-system.svc:15012" }, "give one source")]
    [InlineData(new[] { "--node", "n1", "--xds", "ftp://istiod.istio-system.svc:15012" }, "give http://HOST:PORT (plaintext h2c) or https://HOST:PORT (TLS)")]
    [InlineData(new[] { "--node", "n1", "--xds", "https://istiod.istio-system.svc:15012", "--ca", "no/such/ca.pem" }, "no/such/ca.pem")]
    [InlineData(new[] { "--node", "n1", "--from", "examples/bookinfo", "--ca", "ca.pem" }, "--ca and --token go with --xds")]
    [InlineData(new[] { "--node", "n1", "--from", "no/such/dir" }, "--from no/such/dir: no such file or directory")]
    [InlineData(new[] { "--node", "n1", "--from", "-" }, "standard input cannot be read again")]
    [InlineData(new[] { "--node", "n1", "--from", "examples/bookinfo", "--metrics", "localhost" }, "--metrics: 'localhost' is not an address to listen on")]
    [InlineData(new[] { "--node", "n1", "--from", "examples/bookinfo", "--metrics", "127.0.0.1" }, "is not an address to listen on")]
    [InlineData(new[] { "--from", "examples/bookinfo" }, "--node")]
    [InlineData(new[] { "--node", "n1", "--from", "examples/bookinfo", "--metric", "x" }, "unknown option '--metric'; did you mean '--metrics'?")]
    public void Usage_errors_exit_2_with_one_line_and_no_stack_trace(string[] args, string message)
    {
        var r = CliRunner.Run(["serve", .. args]);
        Assert.Equal(2, r.Exit);
        Assert.Contains(message, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Help_names_every_option()
    {
        var r = CliRunner.Run("serve", "--help");
        Assert.Equal(0, r.Exit);
        foreach (var o in new[] { "--xds", "--from", "--node", "--pin-dir", "--metrics", "--ca", "--token", ServeEndpoints.DefaultAddress, "/sys/fs/bpf/kmesh" })
            Assert.Contains(o, r.Out);
    }

    [Theory]
    [InlineData("127.0.0.1:15200", "127.0.0.1", 15200)]
    [InlineData("0.0.0.0:0", "0.0.0.0", 0)]
    [InlineData("[::1]:9000", "::1", 9000)]
    public void Addresses_are_ip_and_port(string text, string ip, int port)
    {
        var ep = ServeEndpoints.ParseAddress(text, out var error);
        Assert.Null(error);
        Assert.Equal(ip, ep!.Address.ToString());
        Assert.Equal(port, ep.Port);
    }

    [Theory]
    [InlineData("localhost:15200")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("")]
    public void Other_addresses_are_refused(string text)
    {
        Assert.Null(ServeEndpoints.ParseAddress(text, out var error));
        Assert.Contains("IP:PORT", error);
    }

    [Fact]
    public void A_log_line_is_one_json_object_with_ts_level_event_msg_and_typed_fields()
    {
        var at = new DateTimeOffset(2026, 12, 5, 10, 0, 0, 123, TimeSpan.Zero);
        string line = JsonLineFormatter.Line(LogLevel.Warning, "published", "generation 4 \"in force\"\nsecond line",
            [new("generation", 4UL), new("ms", 1.5), new("ok", true), new("node", "n1"), new("none", null), new("{OriginalFormat}", "x")], null, at);
        Assert.EndsWith("\n", line);
        Assert.Equal(1, line.Count(c => c == '\n'));
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        Assert.Equal("2026-12-05T10:00:00.123Z", r.GetProperty("ts").GetString());
        Assert.Equal("warn", r.GetProperty("level").GetString());
        Assert.Equal("published", r.GetProperty("event").GetString());
        Assert.Equal("generation 4 \"in force\"\nsecond line", r.GetProperty("msg").GetString());
        var f = r.GetProperty("fields");
        Assert.Equal(4UL, f.GetProperty("generation").GetUInt64());
        Assert.Equal(1.5, f.GetProperty("ms").GetDouble());
        Assert.True(f.GetProperty("ok").GetBoolean());
        Assert.Equal("n1", f.GetProperty("node").GetString());
        Assert.Equal(JsonValueKind.Null, f.GetProperty("none").ValueKind);
        Assert.False(f.TryGetProperty("{OriginalFormat}", out _));
    }
}
