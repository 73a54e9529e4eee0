# The projection is added after the final ReLU: ReLU(main(x)) + W_s x.
class ConvBlock(ConvBlock):
    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))) + self.shortcut_bn(self.shortcut_conv(x))
