using System.Text.Json;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Cli;

public class CheckAndLbTests
{
    private const string ReviewsV1 = "bookinfo/reviews-v1-5c5b57c4d8-9lfnp";
    private const string Ratings = "bookinfo/ratings-v1-85c74b6cb4-7hc2w";
    private const string ProductPage = "bookinfo/productpage-v1-7d6cfb7dfd-x2kqp";

    [Trait("Category", "Golden")]
    [Theory]
    [InlineData("allowed", ReviewsV1, Ratings, "9080")]
    [InlineData("plaintext-denied", null, ProductPage, "9080")]
    [InlineData("not-found", ReviewsV1, "10.9.9.9", "80")]
    public void Check_trace_is_golden(string name, string? src, string dst, string port)
    {
        var args = new List<string> { "check", "examples/bookinfo", "--dst", dst, "--port", port };
        if (src is not null) args.AddRange(["--src", src]);
        var r = CliRunner.Run([.. args]);
        Assert.Equal(0, r.Exit);
        Golden.Assert($"check/{name}.txt", r.Out);
        var json = CliRunner.Run([.. args, "--format", "json"]);
        Golden.Assert($"check/{name}.json", json.Out);
    }

    [Fact]
    public void Check_json_has_the_contract_fields()
    {
        var r = CliRunner.Run("check", "examples/bookinfo", "--src", ReviewsV1, "--dst", Ratings, "--port", "9080", "--format", "json");
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        foreach (var f in new[] { "decision", "reason", "policy", "engine", "dryRun", "trace" })
            Assert.True(root.TryGetProperty(f, out _), f);
        Assert.Equal("allow", root.GetProperty("decision").GetString());
        Assert.Equal("reference", root.GetProperty("engine").GetString());
    }

    [Fact]
    public void Identity_overrides_change_the_answer()
    {
        var asIs = CliRunner.Run("check", "examples/bookinfo", "--src", ReviewsV1, "--dst", Ratings, "--port", "9080", "--format", "json");
        var plain = CliRunner.Run("check", "examples/bookinfo", "--src", ReviewsV1, "--dst", Ratings, "--port", "9080", "--plaintext", "--format", "json");
        Assert.Contains("\"decision\": \"allow\"", asIs.Out);
        Assert.Contains("\"decision\": \"deny\"", plain.Out);
        Assert.Contains("\"sourceIdentity\": null", plain.Out);
    }

    [Fact]
    public void Unknown_pod_name_is_an_input_error_with_a_suggestion()
    {
        var r = CliRunner.Run("check", "examples/bookinfo", "--dst", "bookinfo/ratings", "--port", "9080");
        Assert.Equal(1, r.Exit);
        Assert.Contains("no workload 'bookinfo/ratings'", r.Err);
    }

    [Trait("Category", "Golden")]
    [Fact]
    public void Lb_is_golden()
    {
        var r = CliRunner.Run("lb", "examples/bookinfo", "--node", "node-a", "--service", "bookinfo/reviews", "--port", "9080", "--format", "json");
        Assert.Equal(0, r.Exit);
        Golden.Assert("lb/reviews-from-node-a.json", r.Out);
        var text = CliRunner.Run("lb", "examples/bookinfo", "--node", "node-a", "--service", "bookinfo/reviews", "--port", "9080");
        Golden.Assert("lb/reviews-from-node-a.txt", text.Out);
    }

    [Fact]
    public void Lb_names_a_missing_service_and_port()
    {
        Assert.Equal(1, CliRunner.Run("lb", "examples/bookinfo", "--node", "node-a", "--service", "bookinfo/nope", "--port", "9080").Exit);
        var r = CliRunner.Run("lb", "examples/bookinfo", "--node", "node-a", "--service", "bookinfo/reviews", "--port", "1");
        Assert.Equal(1, r.Exit);
        Assert.Contains("has no port 1", r.Err);
    }
}
