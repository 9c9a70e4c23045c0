extern alias UsersApi;

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace GatewayBridge.Tests.Examples;

public class UsersApiTests : IDisposable
{
    // A factory per test: the store is in memory and each test starts from an empty one.
    private readonly WebApplicationFactory<UsersApi::Program> _factory = new();
    private readonly HttpClient _client;

    public UsersApiTests()
    {
        _client = _factory.CreateClient();
    }

    public void Dispose()
    {
        _client.Dispose();
        _factory.Dispose();
        GC.SuppressFinalize(this);
    }

    private async Task<JsonElement> CreateAsync(string name, string email)
    {
        var response = await _client.PostAsJsonAsync("/users", new { name, email });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Post_CreatesWith201AndLocation_ThenGetFindsIt()
    {
        var response = await _client.PostAsJsonAsync("/users", new { name = "Ada", email = "ada@example.com" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetInt32();
        Assert.Equal($"/users/{id}", response.Headers.Location?.ToString());
        Assert.Equal("Ada", created.GetProperty("name").GetString());

        var fetched = await _client.GetFromJsonAsync<JsonElement>($"/users/{id}");
        Assert.Equal("ada@example.com", fetched.GetProperty("email").GetString());
    }

    [Fact]
    public async Task GetUsers_ListsThemInOrder()
    {
        await CreateAsync("A", "a@x");
        await CreateAsync("B", "b@x");

        var list = await _client.GetFromJsonAsync<JsonElement[]>("/users");
        Assert.Equal(["A", "B"], list!.Select(u => u.GetProperty("name").GetString()));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"name\":\"A\"}")]
    [InlineData("{\"name\":\"A\",\"email\":5}")]
    [InlineData("[1,2]")]
    [InlineData("")]
    public async Task Post_WithBadJsonOrAMissingField_Is400WithAJsonError(string body)
    {
        var response = await _client.PostAsync("/users", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrEmpty(error.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Put_Replaces_Patch_Updates_Delete_Removes()
    {
        var id = (await CreateAsync("Ada", "ada@x")).GetProperty("id").GetInt32();

        var put = await _client.PutAsJsonAsync($"/users/{id}", new { name = "Grace", email = "grace@x" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _client.PutAsJsonAsync($"/users/{id}", new { name = "OnlyName" })).StatusCode);

        var patch = await _client.PatchAsJsonAsync($"/users/{id}", new { email = "hopper@x" });
        var patched = await patch.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Grace", patched.GetProperty("name").GetString());
        Assert.Equal("hopper@x", patched.GetProperty("email").GetString());

        var delete = await _client.DeleteAsync($"/users/{id}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/users/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.DeleteAsync($"/users/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("/users/999", "GET")]
    [InlineData("/users/abc", "GET")]
    [InlineData("/users/999", "PUT")]
    [InlineData("/nothing", "GET")]
    public async Task Missing_IsA404(string path, string method)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { name = "a", email = "b" }) };
        Assert.Equal(HttpStatusCode.NotFound, (await _client.SendAsync(request)).StatusCode);
    }

    [Theory]
    [InlineData("/users", "DELETE", "GET, POST")]
    [InlineData("/users/1", "POST", "GET, PUT, PATCH, DELETE")]
    public async Task OtherMethods_Are405WithAllow(string path, string method, string allow)
    {
        await CreateAsync("Ada", "ada@x");
        var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task ConcurrentPosts_GetDistinctIds()
    {
        var created = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => CreateAsync($"u{i}", $"u{i}@x")));
        Assert.Equal(40, created.Select(u => u.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.Equal(40, (await _client.GetFromJsonAsync<JsonElement[]>("/users"))!.Length);
    }
}
