using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FakeXds;

namespace KmeshCompiler.Online.Tests;

/// <summary>What istiod's port 15012 expects: TLS verified against a CA file, and a bearer token
/// read from a file that rotates.</summary>
public sealed class SecurityTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("xds-sec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_token_file_is_sent_as_a_bearer_token_and_read_again_on_reconnect()
    {
        string token = Path.Combine(_dir, "token");
        File.WriteAllText(token, "first-token\n");
        await using var h = await Harness.StartAsync(configure: o => o with { TokenFile = token });
        await h.ConvergedAsync();
        Assert.All(h.Server.Requests, r => Assert.Equal("Bearer first-token", r.Authorization));

        File.WriteAllText(token, "rotated-token");
        h.Server.DropStreams();
        var r2 = await h.Server.WaitForRequestAsync(r => r.Stream == 2, Harness.Timeout);
        Assert.Equal("Bearer rotated-token", r2.Authorization);

        // A missing token file is an error the client reports and retries, keeping its state.
        File.Delete(token);
        h.Server.DropStreams();
        await h.WaitForAsync(_ => h.Client.Stats.LastError?.Contains("cannot read the token file", StringComparison.Ordinal) == true, "token error");
        File.WriteAllText(token, "third-token");
        await h.Server.WaitForRequestAsync(r => r.Authorization == "Bearer third-token", Harness.Timeout);
    }

    private static (X509Certificate2 Ca, X509Certificate2 Leaf) Pki(string name)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caReq = new CertificateRequest($"CN={name} root", caKey, HashAlgorithmName.SHA256);
        caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var ca = caReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafReq = new CertificateRequest("CN=istiod", leafKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("istiod.istio-system.svc");
        leafReq.CertificateExtensions.Add(san.Build());
        leafReq.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        leafReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        using var issued = leafReq.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), [1, 2, 3, 4]);
        // Kestrel wants a key it can use from a PFX-backed certificate.
        var leaf = X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(leafKey).Export(X509ContentType.Pfx), null);
        return (ca, leaf);
    }

    private string Pem(string file, X509Certificate2 cert)
    {
        string path = Path.Combine(_dir, file);
        File.WriteAllText(path, cert.ExportCertificatePem());
        return path;
    }

    /// <summary>A TLS server whose certificate (for 127.0.0.1) the "mesh" CA issued, and a client
    /// given that CA's root as its CA file, or another CA's when <paramref name="rightCa"/> is false.</summary>
    private async Task<(Harness H, string CaFile)> TlsAsync(bool rightCa, Func<XdsClientOptions, XdsClientOptions>? more = null)
    {
        var (ca, leaf) = Pki("mesh");
        string caFile = Pem(rightCa ? "ca.crt" : "wrong-ca.crt", rightCa ? ca : Pki("elsewhere").Ca);
        var h = await Harness.StartAsync(
            serverOptions: new FakeXdsOptions { Certificate = leaf },
            configure: o => (more ?? (x => x))(o with { CaFile = caFile }));
        return (h, caFile);
    }

    [Fact]
    public async Task TLS_with_the_CA_file_syncs()
    {
        var (h, _) = await TlsAsync(rightCa: true);
        await using var owned = h;
        Assert.Equal("https", h.Server.Address.Scheme);
        await h.ConvergedAsync();
        Assert.Null(h.Client.Stats.LastError);
    }

    [Fact]
    public async Task TLS_with_a_wrong_CA_fails_with_a_clear_error_and_never_syncs()
    {
        var (h, caFile) = await TlsAsync(rightCa: false);
        await using var owned = h;
        await h.WaitForAsync(_ => h.Client.Stats.LastError is not null, "an error");
        string error = h.Client.Stats.LastError!;
        Assert.Contains("does not chain to a root in the CA file " + caFile, error);
        Assert.Contains("CN=istiod", error);
        Assert.Equal(0, h.Client.Current.Revision);
        Assert.Empty(h.Server.Requests);
    }

    [Fact]
    public async Task TLS_to_a_name_the_certificate_does_not_hold_fails_clearly()
    {
        var (h, _) = await TlsAsync(rightCa: true, o => o with { Server = new Uri($"https://localhost:{o.Server.Port}") });
        await using var owned = h;
        await h.WaitForAsync(_ => h.Client.Stats.LastError is not null, "an error");
        Assert.Contains("does not name localhost", h.Client.Stats.LastError);
    }
}
